from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError


def test_defaults_and_overrides(tmp_path: Path) -> None:
    s = Settings.from_env({"RAG_CALIBRATION_FILE": str(tmp_path / "none.json")})
    assert s.embedding.model == "all-MiniLM-L6-v2" and s.chunking.encoding == "cl100k_base"
    s = Settings.from_env(
        {
            "RAG_CALIBRATION_FILE": str(tmp_path / "none.json"),
            "RAG_CHUNK_MAX_TOKENS": "100",
            "RAG_API_KEYS": "a, b ,",
            "RAG_AUTO_REBUILD": "no",
            "RAG_LOG_FORMAT": "json",
        }
    )
    assert s.chunking.max_tokens == 100
    assert s.server.api_keys == ("a", "b")
    assert s.index.auto_rebuild is False and s.server.log_format == "json"


def test_overload_settings(tmp_path: Path) -> None:
    calibration = str(tmp_path / "none.json")
    server = Settings.from_env({"RAG_CALIBRATION_FILE": calibration}).server
    assert (server.max_in_flight, server.max_queue_wait_ms, server.request_timeout_ms) == (32, 250.0, 10_000.0)
    env = {"RAG_MAX_IN_FLIGHT": "4", "RAG_MAX_QUEUE_WAIT_MS": "0", "RAG_REQUEST_TIMEOUT_MS": "1500"}
    server = Settings.from_env({"RAG_CALIBRATION_FILE": calibration, **env}).server
    assert (server.max_in_flight, server.max_queue_wait_ms, server.request_timeout_ms) == (4, 0.0, 1500.0)


def test_rate_limit_settings(tmp_path: Path) -> None:
    calibration = str(tmp_path / "none.json")
    server = Settings.from_env({"RAG_CALIBRATION_FILE": calibration}).server
    assert (server.rate_limit_per_minute, server.rate_limit_loopback) == (1200, False)
    env = {"RAG_RATE_LIMIT_PER_MINUTE": "60", "RAG_RATE_LIMIT_LOOPBACK": "true"}
    server = Settings.from_env({"RAG_CALIBRATION_FILE": calibration, **env}).server
    assert (server.rate_limit_per_minute, server.rate_limit_loopback) == (60, True)
    assert Settings.from_env({"RAG_RATE_LIMIT_PER_MINUTE": "0"}).server.rate_limit_per_minute == 0


def test_embedding_concurrency_settings(tmp_path: Path) -> None:
    calibration = str(tmp_path / "none.json")
    emb = Settings.from_env({"RAG_CALIBRATION_FILE": calibration}).embedding
    assert (emb.encode_workers, emb.lone_question_threads, emb.batch_window_ms, emb.max_batch) == (2, 0, 0.0, 32)
    env = {"RAG_ENCODE_WORKERS": "3", "RAG_LONE_QUESTION_THREADS": "1", "RAG_BATCH_WINDOW_MS": "2"}
    emb = Settings.from_env({"RAG_CALIBRATION_FILE": calibration, **env}).embedding
    assert (emb.encode_workers, emb.lone_question_threads, emb.batch_window_ms) == (3, 1, 2.0)


def test_every_variable_is_documented_in_the_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'"(RAG_[A-Z_]+)"', (root / "rag" / "config.py").read_text()))
    table = [line for line in (root / "README.md").read_text().splitlines() if line.startswith("| `RAG_")]
    documented = set(re.findall(r"`(RAG_[A-Z_]+)`", "\n".join(table)))
    assert read and read <= documented, sorted(read - documented)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RAG_CHUNK_MAX_TOKENS", "many", "not a whole number"),
        ("RAG_CHUNK_MAX_TOKENS", "2", "at least 16"),
        ("RAG_AUTO_REBUILD", "perhaps", "true or false"),
        ("RAG_RATE_LIMIT_LOOPBACK", "sometimes", "true or false"),
        ("RAG_RATE_LIMIT_PER_MINUTE", "-1", "at least 0"),
        ("RAG_LOG_FORMAT", "xml", "one of"),
        ("RAG_MIN_EVIDENCE", "high", "not a number"),
        ("RAG_API_KEYS_FILE", "/no/such/file", "cannot be read"),
        ("RAG_MAX_IN_FLIGHT", "0", "at least 1"),
        ("RAG_MAX_QUEUE_WAIT_MS", "-5", "at least 0"),
        ("RAG_REQUEST_TIMEOUT_MS", "nan", "at least 1"),
        ("RAG_LONE_QUESTION_THREADS", "-1", "at least 0"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)


def test_calibration_file_sets_thresholds_and_env_wins(tmp_path: Path) -> None:
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"thresholds": {"min_evidence": 0.37}}))
    assert Settings.from_env({"RAG_CALIBRATION_FILE": str(cal)}).answer.min_evidence == 0.37
    env = {"RAG_CALIBRATION_FILE": str(cal), "RAG_MIN_EVIDENCE": "0.5"}
    assert Settings.from_env(env).answer.min_evidence == 0.5
    cal.write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        Settings.from_env({"RAG_CALIBRATION_FILE": str(cal)})


def test_keys_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# comment\nk1\n\nk2\n")
    assert Settings.from_env({"RAG_API_KEYS_FILE": str(keys)}).server.api_keys == ("k1", "k2")
