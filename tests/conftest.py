"""Shared fixtures: a clean environment, the real bundled model, a real built index.

The suite runs with outbound sockets blocked (pytest-socket, see pyproject.toml):
only loopback connections are allowed, which proves the offline claim.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED_TIKTOKEN = ROOT.parent / "shared" / "tiktoken"

# tiktoken reads its cache folder when an encoding is first loaded; point it at the
# ready cache next to the repo (CI sets the same variable in .ci/run).
if SHARED_TIKTOKEN.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED_TIKTOKEN))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _clean_rag_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's RAG_* variables must not change test results."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real bundled all-MiniLM-L6-v2, loaded once per session."""
    from rag.config import EmbeddingConfig
    from rag.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.load(EmbeddingConfig())


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    """An index of the real corpus, built once into a temporary folder."""
    from rag.builder import build_index

    folder = tmp_path_factory.mktemp("index")
    build_index(settings_for(index_dir=folder), embedder)
    return folder


@pytest.fixture(scope="session")
def pipeline(index_dir: Path, embedder):  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(settings_for(index_dir=index_dir), embedder=embedder)


def settings_for(**overrides: object):  # type: ignore[no-untyped-def]
    """Default settings (calibration file of the repo included) with paths overridden."""
    from dataclasses import replace

    from rag.config import Settings

    base = Settings.from_env(
        {"RAG_CORPUS_DIR": str(CORPUS), "RAG_CALIBRATION_FILE": str(ROOT / "eval" / "calibration.json")}
    )
    return replace(base, **overrides)


@pytest.fixture
def chdir_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(ROOT)
    yield ROOT


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real PostgreSQL with pgvector for the session (``tests/pg.py``), started on first use."""
    from tests.pg import PgServer

    server = PgServer(tmp_path_factory.mktemp("pg") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """A fresh empty database on the session's server, dropped after the test."""
    with pg_server.fresh() as url:
        yield url
