"""Token buckets per caller, the 429 with Retry-After, and who is limited by default.

The defaults: with API keys every key is limited (1200 a minute); without keys, callers on
this machine are not limited at all and callers from other machines are limited by address.
Litestar's test client always calls from the address ``"testclient"`` (another machine, as
far as the limiter can tell); :func:`from_address` makes the app see another one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.context import context_of
from api.ratelimit import MAX_BUCKETS, RateLimiter, is_loopback_address, retry_after_header
from rag.config import ServerConfig

DEFAULTS = {"rate_limit_per_minute": ServerConfig().rate_limit_per_minute}
"""The shipped default (the API tests' own app factory turns the limit off otherwise)."""


def from_address(client: TestClient[Litestar], host: str) -> TestClient[Litestar]:
    """Every later request of ``client`` reaches the app as if sent from ``host``."""
    app = client.app
    inner = app.asgi_handler

    async def with_client_address(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": (host, 50000)}
        await inner(scope, receive, send)

    app.asgi_handler = with_client_address
    return client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_may_burst_up_to_the_limit_then_waits():
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.acquire("a") is None for _ in range(60))
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") is None


def test_callers_have_separate_buckets():
    limiter = RateLimiter(1, clock=Clock())
    assert limiter.acquire("key:0") is None
    assert limiter.acquire("key:0") == pytest.approx(60.0)
    assert limiter.acquire("key:1") is None


def test_buckets_refill_to_capacity_only():
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(3)][:2] == [None, None]
    assert limiter.acquire("a") is not None


def test_full_buckets_are_pruned_when_there_are_too_many_callers():
    clock = Clock()
    limiter = RateLimiter(10, clock=clock)
    for n in range(MAX_BUCKETS):
        limiter.acquire(f"ip:{n}")
    clock.now += 60  # every bucket is full again
    limiter.acquire("ip:new")
    assert len(limiter._buckets) == 1


def test_zero_per_minute_is_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60")])
def test_retry_after_is_whole_seconds_rounded_up(wait, header):
    assert retry_after_header(wait) == header


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"])
def test_loopback_addresses(address):
    assert is_loopback_address(address)


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "192.168.1.10", "::ffff:10.0.0.1", "2001:db8::1", "0.0.0.0", "testclient", "unknown", ""]
)
def test_other_addresses_are_other_machines(address):
    assert not is_loopback_address(address)


def test_the_default_is_1200_a_minute():
    assert ServerConfig().rate_limit_per_minute == 1200
    assert ServerConfig().rate_limit_loopback is False


def test_the_api_answers_429_with_retry_after_per_client(make_client):
    """Without keys, a caller from another machine is limited by its address."""
    client = make_client(rate_limit_per_minute=2)
    assert client.post("/v1/answer", json={"question": "renewal"}).status_code == 200
    assert client.get("/v1/sources").status_code == 200
    r = client.post("/v1/search", json={"question": "renewal"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 30
    # operator routes are not limited
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("address", ["testclient", "127.0.0.1"])
def test_the_limit_is_per_api_key(make_client, address):
    """With keys, every caller is limited by key, on this machine too."""
    client = from_address(make_client(api_keys=("k1", "k2"), rate_limit_per_minute=1), address)
    assert client.get("/v1/sources", headers={"x-api-key": "k1"}).status_code == 200
    assert client.get("/v1/sources", headers={"x-api-key": "k1"}).status_code == 429
    assert client.get("/v1/sources", headers={"authorization": "Bearer k2"}).status_code == 200
    # a caller without a valid key is refused before it can use anyone's tokens
    assert client.get("/v1/sources", headers={"x-api-key": "nope"}).status_code == 401


def test_zero_disables_the_limit(make_client):
    client = make_client(rate_limit_per_minute=0)
    assert all(client.get("/v1/sources").status_code == 200 for _ in range(50))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_without_keys_callers_on_this_machine_are_not_limited(make_client, address):
    client = from_address(make_client(rate_limit_per_minute=2), address)
    assert [client.post("/v1/answer", json={"question": "renewal"}).status_code for _ in range(30)] == [200] * 30


def test_rate_limit_loopback_limits_callers_on_this_machine_too(make_client):
    client = from_address(make_client(rate_limit_per_minute=2, rate_limit_loopback=True), "127.0.0.1")
    statuses = [client.get("/v1/sources").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_on_the_defaults_without_keys_300_quick_answers_from_this_machine_all_succeed(make_client):
    """One app (or an evaluation run) on the same machine asking as fast as it can."""
    client = from_address(make_client(**DEFAULTS), "127.0.0.1")
    statuses = [client.post("/v1/answer", json={"question": f"renewal (case {n})"}).status_code for n in range(300)]
    assert statuses == [200] * 300


def test_on_the_defaults_with_keys_each_key_gets_1200_a_minute(make_client):
    client = from_address(make_client(api_keys=("k1", "k2"), **DEFAULTS), "127.0.0.1")
    limiter = context_of(client.app.state).limiter
    assert limiter is not None and (limiter.capacity, limiter.rate) == (1200.0, 20.0)
    key = {"x-api-key": "k1"}
    started = time.monotonic()
    statuses = [client.post("/v1/answer", json={"question": f"q {n}"}, headers=key).status_code for n in range(300)]
    assert statuses == [200] * 300  # an evaluation run with one key fits in the burst
    more = 0
    while (r := client.get("/v1/sources", headers=key)).status_code == 200 and more < 2000:
        more += 1
    refilled = 20 * (time.monotonic() - started)  # 1200 a minute refill at 20 a second
    assert r.status_code == 429, more
    assert 900 <= more <= 900 + refilled + 1  # the rest of the burst of 1200, and what refilled meanwhile
    assert client.get("/v1/sources", headers={"x-api-key": "k2"}).status_code == 200


def test_on_the_defaults_other_machines_without_keys_are_limited_by_address(make_client):
    client = make_client(**DEFAULTS)  # from "testclient": not this machine
    limiter = context_of(client.app.state).limiter
    assert limiter is not None and limiter.capacity == 1200.0
    assert client.get("/v1/sources").status_code == 200
    assert limiter._buckets["ip:testclient"].tokens == pytest.approx(1199.0, abs=0.5)
