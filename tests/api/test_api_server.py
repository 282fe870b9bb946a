"""``run()``'s refusal to expose an open API, decided before uvicorn starts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.server import exposure_warning, is_loopback, run
from rag.config import ServerConfig, Settings
from rag.errors import ConfigError

OPEN = Settings()
KEYED = replace(Settings(), server=replace(ServerConfig(), api_keys=("k",)))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "my-laptop", ""])
def test_other_hosts_are_public(host):
    assert not is_loopback(host)


def test_loopback_without_keys_warns_that_the_api_is_open():
    warning = exposure_warning(OPEN, "127.0.0.1", 8000, allow_open=False)
    assert warning is not None
    assert "open" in warning and "127.0.0.1:8000" in warning and "RAG_API_KEYS" in warning


def test_public_host_without_keys_is_refused_unless_allowed():
    with pytest.raises(ConfigError, match="--allow-open"):
        exposure_warning(OPEN, "0.0.0.0", 8000, allow_open=False)
    assert "network" in exposure_warning(OPEN, "0.0.0.0", 8000, allow_open=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_no_warning_with_keys(host):
    assert exposure_warning(KEYED, host, 8000, allow_open=False) is None


def test_run_refuses_before_binding():
    with pytest.raises(ConfigError, match="refusing"):
        run(OPEN, "0.0.0.0", 8000, 1)
    with pytest.raises(ConfigError, match="workers"):
        run(OPEN, "127.0.0.1", 8000, 0)


def test_run_with_workers_refuses_settings_that_are_not_from_the_environment():
    custom = replace(KEYED, server=replace(KEYED.server, rate_limit_per_minute=7))
    with pytest.raises(ConfigError, match="environment"):
        run(custom, "127.0.0.1", 8000, 2)
