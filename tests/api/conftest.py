"""A small deterministic stand-in for ``rag.pipeline.Pipeline`` and app fixtures.

The fake has the pipeline's surface (``settings``, ``manifest``, ``answer``, ``search``,
``sources``) and is built from the real core records, so the API's mapping code runs
on the same types it will see in production. No mocks: behaviour is plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app
from rag.config import ServerConfig, Settings
from rag.datatypes import Answer, Chunk, Citation, Location, Manifest, Part, Passage, SourceInfo, Turn
from rag.errors import InvalidQuestionError

SOURCE = "csp-for-sellers.md"
MANIFEST = Manifest(
    format_version=1,
    index_version="test-index-1",
    model_name="all-MiniLM-L6-v2",
    model_sha256="0" * 64,
    dimension=384,
    tokenizer="cl100k_base",
    chunking={"max_tokens": 160},
    files={SOURCE: "f" * 64},
    n_documents=1,
    n_chunks=8,
    n_sentences=40,
    index_type="flat",
    built_at="2025-08-19T17:40:00+00:00",
    build_seconds=1.5,
)
SCENARIOS = (
    "New CSP deal being pitched by a partner to an EA customer",
    "Upsell/cross-sell into customer who has purchased via CSP",
    "New workload, current partner does not support it",
    "New workload, partner does support the solution",
    "Customer has an upcoming EA renewal",
    "Customer moves from EA to CSP and has support needs",
    "Customer needs to change partner",
    "Customer wants to migrate from CSP to EA or an MCA",
)
CHUNKS = tuple(
    Chunk(
        chunk_id=f"{SOURCE}#s{slide}-c1",
        location=Location(SOURCE, slide, None, f"Scenario {n}", "What should the seller do?"),
        doc_title="CSP for Sellers",
        text=f"{scenario}. What should the seller do? Work with the partner.",
        start=100 * slide,
        end=100 * slide + 60,
        embed_text=f"CSP for Sellers / Scenario {n}\n{scenario}",
        sentences=(),
        n_tokens=20,
        n_model_tokens=24,
    )
    for n, (slide, scenario) in enumerate(zip(range(4, 12), SCENARIOS, strict=True), start=1)
)
ABSTAIN_WORD = "weather"
"""A question containing this word gets an abstention from the fake."""


class FakePipeline:
    """Deterministic: the chunk whose scenario shares most words with the question wins.

    ``fail_with`` makes every call raise that exception (to test error mapping);
    ``calls`` records ``(method, question, k)`` so tests can see what reached the core.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.manifest = MANIFEST
        self.fail_with: BaseException | None = None
        self.calls: list[tuple[str, str, int | None]] = []
        self.histories: list[tuple[Turn, ...]] = []

    def _check(self, question: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError("the question is blank")
        if len(question.strip()) > self.settings.server.max_question_chars:
            raise InvalidQuestionError("the question is too long")

    def _ranked(self, question: str) -> list[Chunk]:
        words = set(question.lower().split())
        return sorted(CHUNKS, key=lambda c: (-len(words & set(c.text.lower().split())), c.slide))

    def search(self, question: str, k: int | None = None) -> tuple[Passage, ...]:
        self.calls.append(("search", question, k))
        self._check(question)
        k = k or self.settings.retrieval.top_k
        return tuple(
            Passage(chunk=c, score=round(1.0 / (rank + 1), 4), rank=rank, dense_score=0.5, lexical_score=None)
            for rank, c in enumerate(self._ranked(question)[:k], start=1)
        )

    def answer(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        self.calls.append(("answer", question, top_k))
        self.histories.append(tuple(history))
        self._check(question)
        passages = self.search(question, top_k)
        if ABSTAIN_WORD in question.lower():
            return Answer(
                question=question,
                text="The documents do not cover this question.",
                abstained=True,
                confidence=0.1,
                citations=(),
                passages=passages,
                suggestions=("Scenario 5", "Scenario 1"),
                index_version=self.manifest.index_version,
                timing_ms={"retrieve": 1.0, "total": 1.5},
            )
        best = passages[0].chunk
        citation = Citation(
            n=1,
            chunk_id=best.chunk_id,
            location=best.location,
            quote=best.text[:40],
            score=passages[0].score,
        )
        return Answer(
            question=question,
            text=f"{best.text} [1]",
            abstained=False,
            confidence=0.8,
            citations=(citation,),
            passages=passages,
            suggestions=(),
            index_version=self.manifest.index_version,
            timing_ms={"retrieve": 1.0, "answer": 0.5, "total": 1.5},
            context_turn=len(history) - 1 if history else None,  # the fake leans on the latest turn
        )

    def sources(self) -> tuple[SourceInfo, ...]:
        if self.fail_with is not None:
            raise self.fail_with
        parts = tuple(
            Part(slide=c.slide, page=None, title=c.title, scenario=s, text=c.text)
            for c, s in zip(CHUNKS, SCENARIOS, strict=True)
        )
        return (SourceInfo(source=SOURCE, title="CSP for Sellers", parts=parts),)


def make_settings(**server: Any) -> Settings:
    """Default settings with some ``ServerConfig`` fields replaced (rate limit off unless asked)."""
    server.setdefault("rate_limit_per_minute", 0)
    return replace(Settings(), server=replace(ServerConfig(), **server))


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


AppFactory = Callable[..., TestClient[Litestar]]


@pytest.fixture
def make_client(pipeline: FakePipeline) -> Iterator[AppFactory]:
    """``make_client(**server_fields)``: a started TestClient on a fresh app with the fake."""
    clients: list[TestClient[Litestar]] = []

    def make(**server: Any) -> TestClient[Litestar]:
        client = TestClient(create_app(make_settings(**server), pipeline), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient[Litestar]:
    return make_client()


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative default paths (``data/`` for feedback) land in a temporary folder, not the repo."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
