"""Core records -> wire types. The only module that knows both sides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from api.schemas import (
    AnswerResponse,
    CitationOut,
    FeedbackRequest,
    FeedbackResponse,
    LocationOut,
    PartOut,
    ReadyResponse,
    SearchHit,
    SearchResponse,
    SourceOut,
    SourcesResponse,
    TurnIn,
)
from rag.datatypes import Answer, Citation, Location, Manifest, Part, Passage, SourceInfo, Turn
from rag.feedback import Feedback


def turns_of(history: Sequence[TurnIn]) -> tuple[Turn, ...]:
    """A request's history as the core's turns."""
    return tuple(Turn(t.question, tuple(t.chunk_ids)) for t in history)


def answer_response(answer: Answer, conversation_id: str | None = None) -> AnswerResponse:
    return AnswerResponse(
        answer=answer.text,
        abstained=answer.abstained,
        confidence=float(answer.confidence),
        citations=[_citation(c) for c in answer.citations],
        suggestions=list(answer.suggestions),
        index_version=answer.index_version,
        timing_ms={str(k): float(v) for k, v in answer.timing_ms.items()},
        context_turn=answer.context_turn,
        conversation_id=conversation_id,
    )


def location_fields(loc: Location) -> LocationOut:
    """A location as the wire's flat fields: the one mapping for citations and search hits."""
    return LocationOut(source=loc.source, slide=loc.slide, page=loc.page, title=loc.title, section=loc.section)


def _citation(c: Citation) -> CitationOut:
    return CitationOut(n=c.n, chunk_id=c.chunk_id, **location_fields(c.location), quote=c.quote, score=float(c.score))


def search_response(passages: Iterable[Passage], index_version: str) -> SearchResponse:
    return SearchResponse(results=[_hit(p) for p in passages], index_version=index_version)


def _hit(p: Passage) -> SearchHit:
    chunk = p.chunk
    return SearchHit(
        rank=p.rank, score=float(p.score), chunk_id=chunk.chunk_id, **location_fields(chunk.location), text=chunk.text
    )


def sources_response(sources: Iterable[SourceInfo], index_version: str) -> SourcesResponse:
    return SourcesResponse(
        sources=[SourceOut(source=s.source, title=s.title, parts=[_part(p) for p in s.parts]) for s in sources],
        index_version=index_version,
    )


def _part(p: Part) -> PartOut:
    return PartOut(slide=p.slide, page=p.page, title=p.title, scenario=p.scenario, text=p.text)


def ready_response(manifest: Manifest) -> ReadyResponse:
    return ReadyResponse(
        status="ready",
        index_version=manifest.index_version,
        model=manifest.model_name,
        n_chunks=manifest.n_chunks,
        n_documents=manifest.n_documents,
        built_at=manifest.built_at,
    )


def feedback_record(body: FeedbackRequest, question: str) -> Feedback:
    """The stored record; a blank comment is stored as no comment."""
    comment = body.comment.strip() if body.comment is not None else ""
    return Feedback(
        helpful=body.helpful,
        question=question,
        answer=body.answer,
        abstained=body.abstained,
        citations=[msgspec.structs.asdict(c) for c in body.citations],
        index_version=body.index_version,
        comment=comment or None,
    )


def feedback_response(saved: Feedback) -> FeedbackResponse:
    if saved.id is None:  # pragma: no cover - FeedbackStore.add always returns the new row's id
        raise ValueError("the feedback store returned a record without an id")
    return FeedbackResponse(id=saved.id, created_at=saved.created_at)
