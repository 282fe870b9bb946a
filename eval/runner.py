"""Run gold questions through the system (in process, or a service over HTTP) and score them.

Both answerers produce the same :class:`~eval.metrics.Observation`, so the two modes are
scored by the same code. Over HTTP the ranking comes from ``/v1/search`` and the answer,
citations and latency from ``/v1/answer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from eval.gold import GoldItem
from eval.metrics import Observation, QuestionResult, score_question
from rag.datatypes import Answer
from rag.errors import RagError

Answerer = Callable[[str], Observation]


class HarnessError(RagError):
    """The evaluation itself could not run (service unreachable, bad response)."""


def slide_id(source: str, slide: int | None, page: int | None = None) -> str:
    """The id metrics compare: ``source#slide`` (or ``source#p<page>``), as in eval.metrics."""
    if slide is not None:
        return f"{source}#{slide}"
    return f"{source}#p{page}" if page is not None else source


def observe(answer: Answer, latency_ms: float) -> Observation:
    retrieved: list[str] = []
    for p in answer.passages:
        key = slide_id(p.chunk.source, p.chunk.slide, p.chunk.page)
        if key not in retrieved:
            retrieved.append(key)
    return Observation(
        retrieved=tuple(retrieved),
        answer=answer.text,
        abstained=answer.abstained,
        cited=tuple(slide_id(*c.location.place) for c in answer.citations),
        quotes=tuple(c.quote for c in answer.citations),
        confidence=answer.confidence,
        latency_ms=round(latency_ms, 3),
    )


def pipeline_answerer(pipeline: Any, top_k: int | None = None) -> Answerer:
    """Answer in process with a :class:`rag.pipeline.Pipeline`."""

    def answer(question: str) -> Observation:
        started = time.perf_counter()
        result = pipeline.answer(question, top_k)
        return observe(result, (time.perf_counter() - started) * 1000)

    return answer


def http_answerer(base_url: str, api_key: str | None = None, timeout: float = 30.0) -> Answerer:
    """Answer through a running service's ``/v1/answer`` and ``/v1/search``."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise HarnessError(f"{base_url}{path} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise HarnessError(f"{base_url}{path} answered {response.status_code}: {response.text[:200]}")
        data: dict[str, Any] = response.json()
        return data

    def answer(question: str) -> Observation:
        started = time.perf_counter()
        data = post("/v1/answer", {"question": question})
        latency = (time.perf_counter() - started) * 1000
        results = post("/v1/search", {"question": question, "top_k": 10})["results"]
        retrieved: list[str] = []
        for r in results:
            key = slide_id(r["source"], r.get("slide"), r.get("page"))
            if key not in retrieved:
                retrieved.append(key)
        citations = data["citations"]
        return Observation(
            retrieved=tuple(retrieved),
            answer=data["answer"],
            abstained=bool(data["abstained"]),
            cited=tuple(slide_id(c["source"], c.get("slide"), c.get("page")) for c in citations),
            quotes=tuple(c["quote"] for c in citations),
            confidence=float(data["confidence"]),
            latency_ms=round(latency, 3),
        )

    return answer


def run(
    items: Sequence[GoldItem],
    answerer: Answerer,
    progress: Callable[[Iterable[GoldItem]], Iterable[GoldItem]] = lambda it: it,
) -> list[QuestionResult]:
    """Every gold item answered and scored, in gold order."""
    return [score_question(item, answerer(item.question), slide_id) for item in progress(items)]
