from __future__ import annotations

import json
from dataclasses import fields, replace
from operator import attrgetter
from pathlib import Path

import pytest

from rag.config import AnswerConfig, RetrievalConfig, ServerConfig, Settings
from rag.errors import ConfigError
from rag.settings_table import (
    SETTINGS,
    Bool,
    Choice,
    CommaList,
    Int,
    KeysFile,
    Number,
    PathValue,
    Setting,
    StoreUrl,
    Text,
)


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


def test_every_row_fills_a_field_of_its_part() -> None:
    base = Settings()
    for setting in SETTINGS:
        part = getattr(base, setting.part) if setting.part else base
        assert setting.name in {f.name for f in fields(part)}, setting
    names = [s.env for s in SETTINGS]
    assert all(n.startswith("RAG_") for n in names) and len(names) == len(set(names))
    filled = [s.field for s in SETTINGS if not s.extends]
    assert len(filled) == len(set(filled)), "two rows replace the same field"


def _sample(setting: Setting, default: object, tmp_path: Path) -> tuple[str, object]:
    """A valid value for the variable, other than its default, and what it should become."""
    parser = setting.parser
    if isinstance(parser, Int):
        return str(parser.minimum + 3), parser.minimum + 3
    if isinstance(parser, Number):
        return "7.5", 7.5
    if isinstance(parser, Bool):
        return ("false", False) if default else ("true", True)
    if isinstance(parser, Choice):
        other = next(a for a in parser.allowed if a != default)
        return other, other
    if isinstance(parser, CommaList):
        return " x, y ,", ("x", "y")
    if isinstance(parser, KeysFile):
        (tmp_path / "keys").write_text("k\n")
        return str(tmp_path / "keys"), ("k",)
    if isinstance(parser, PathValue):
        return str(tmp_path / "elsewhere"), tmp_path / "elsewhere"
    if isinstance(parser, StoreUrl):
        return " postgresql://rag@db:5432/rag ", "postgresql://rag@db:5432/rag"
    assert isinstance(parser, Text), parser
    return "something-else", "something-else"


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.env for s in SETTINGS])
def test_each_variable_reaches_its_field(setting: Setting, tmp_path: Path) -> None:
    env = {"RAG_CALIBRATION_FILE": str(tmp_path / "none.json")}
    default = attrgetter(setting.field)(Settings.from_env(env))
    raw, expected = _sample(setting, default, tmp_path)
    assert expected != default
    assert attrgetter(setting.field)(Settings.from_env({**env, setting.env: raw})) == expected


def test_blank_numbers_and_switches_are_unset_but_blank_text_is_a_value(tmp_path: Path) -> None:
    env = {"RAG_CALIBRATION_FILE": str(tmp_path / "none.json")}
    s = Settings.from_env({**env, "RAG_TOP_K": " ", "RAG_MIN_EVIDENCE": "", "RAG_AUTO_REBUILD": "  "})
    assert (s.retrieval.top_k, s.answer.min_evidence, s.index.auto_rebuild) == (5, 0.55, True)
    assert Settings.from_env({**env, "RAG_EMBED_DEVICE": ""}).embedding.device == ""
    with pytest.raises(ConfigError, match="one of"):
        Settings.from_env({**env, "RAG_EMBED_BACKEND": ""})


def test_unread_fields_keep_their_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({"RAG_CALIBRATION_FILE": str(tmp_path / "none.json"), "RAG_TOP_K": "3"})
    assert s.retrieval == replace(RetrievalConfig(), top_k=3)
    assert s.server == ServerConfig() and s.answer == AnswerConfig()


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


def test_the_keys_file_adds_to_the_listed_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("k1\n")
    env = {"RAG_API_KEYS": "a", "RAG_API_KEYS_FILE": str(keys)}
    assert Settings.from_env(env).server.api_keys == ("a", "k1")
