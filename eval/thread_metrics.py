"""Scoring gold threads turn by turn, and the per-kind figures of a thread run (pure).

Every turn is asked twice: *in thread* (its question, with the thread's earlier turns as
history) and *alone* (its standalone text, no history). Both are scored by
:func:`eval.metrics.score_question` like any gold question, so ``hit@1`` (any gold slide at
the top of the distinct retrieved slides), fact coverage and citation precision mean here what
they mean in ``rag eval``. Comparing the two says what the thread costs or gains: a follow-up
should score about as well in thread as its standalone text does alone.

Two figures are specific to threads:

- **dragged**: a topic-change turn whose top retrieved slide is the previous turn's primary
  slide while that slide is not among its own gold slides (the history pulled the answer back
  to the old scenario). Its rate over the asked-alone answers is the baseline: the share that
  lands there without any history.
- **hit@1 after a hit**: hit@1 in thread over the turns whose previous turn had hit@1 in
  thread, so a follow-up that inherits a wrong first answer does not count against reading
  the thread.
- **context right**: the system's ``context_turn`` (the earlier turn it read the question
  with, or None) matches the turn's kind: set for a follow-up, None for a topic change. First
  turns have no history, so they do not count.

Set-level figures with an empty denominator are None, as in :mod:`eval.metrics`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from eval.metrics import (
    DECIMALS,
    Observation,
    QuestionResult,
    SlideKey,
    default_slide_key,
    score_question,
)
from eval.retrieval_metrics import dedupe
from eval.stats import mean
from eval.threads import FOLLOW_UP, KINDS, TOPIC_CHANGE, GoldThread, ThreadTurn

H = TypeVar("H", bound=Hashable)

ALL = "all"
"""The row of the summary that holds every turn."""


@dataclass(frozen=True, slots=True)
class TurnResult:
    """One turn of a gold thread, scored in thread and alone."""

    thread_id: str
    index: int
    """0-based position of the turn in its thread."""
    turn: ThreadTurn
    in_thread: QuestionResult
    alone: QuestionResult
    context_turn: int | None
    """What the system said it read the in-thread question with (index into the history)."""
    previous_primary: str | None
    """Slide id of the previous turn's gold primary slide; None for a first turn."""

    @property
    def kind(self) -> str:
        return self.turn.kind

    @property
    def dragged(self) -> bool | None:
        """Whether the in-thread answer was dragged to the previous scenario (topic changes only)."""
        return self._dragged(self.in_thread)

    @property
    def dragged_alone(self) -> bool | None:
        return self._dragged(self.alone)

    @property
    def context_right(self) -> bool | None:
        """Whether ``context_turn`` agrees with the kind; None for a first turn (no history)."""
        return context_right(self.kind, self.context_turn)

    def _dragged(self, result: QuestionResult) -> bool | None:
        if self.kind != TOPIC_CHANGE or self.previous_primary is None:
            return None
        return dragged(result.observation.retrieved, self.previous_primary, result.relevant)


def dragged(retrieved: Sequence[H], previous_primary: H, relevant: Sequence[H]) -> bool:
    """True when the top distinct retrieved id is ``previous_primary`` and that is not relevant.

    Nothing retrieved is not dragged: it is a miss, which hit@1 already counts.
    """
    top = dedupe(retrieved)[:1]
    return bool(top) and top[0] == previous_primary and previous_primary not in relevant


def context_right(kind: str, context_turn: int | None) -> bool | None:
    """A follow-up should be read with an earlier turn, a topic change on its own; first: None."""
    if kind == FOLLOW_UP:
        return context_turn is not None
    if kind == TOPIC_CHANGE:
        return context_turn is None
    return None


def score_turn(
    thread: GoldThread,
    index: int,
    in_thread: Observation,
    alone: Observation,
    context_turn: int | None,
    slide_key: SlideKey = default_slide_key,
) -> TurnResult:
    """Score turn ``index`` of ``thread`` from what the system did in thread and alone."""
    previous = thread.turns[index - 1].primary_slide if index > 0 else None
    return TurnResult(
        thread_id=thread.id,
        index=index,
        turn=thread.turns[index],
        in_thread=score_question(thread.gold_item(index), in_thread, slide_key),
        alone=score_question(thread.gold_item(index, standalone=True), alone, slide_key),
        context_turn=context_turn,
        previous_primary=None if previous is None else slide_key(thread.source, previous),
    )


# --- aggregation ------------------------------------------------------------------------------

FIGURES = (
    "hit@1", "hit@1_alone", "hit@1_after_hit", "fact_coverage", "fact_coverage_alone",
    "citation_precision", "citation_precision_alone",
    "dragged_rate", "dragged_rate_alone", "context_right",
)  # fmt: skip
"""Figures of every row of the summary; those that do not apply to a kind are None."""


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """Per-kind figures of a thread run (plus ``all``), and how many threads went right."""

    counts: Mapping[str, int]
    """threads, turns, and threads whose every turn had hit@1 in thread."""
    by_kind: Mapping[str, Mapping[str, float | None]]
    turns_by_kind: Mapping[str, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "counts": dict(self.counts),
            "turns_by_kind": dict(self.turns_by_kind),
            "by_kind": {kind: dict(figures) for kind, figures in self.by_kind.items()},
        }


def _share(flags: Sequence[bool | None]) -> float | None:
    known = [flag for flag in flags if flag is not None]
    return sum(known) / len(known) if known else None


def _figures(results: Sequence[TurnResult], hits: Mapping[tuple[str, int], float]) -> dict[str, float | None]:
    def avg(side: str, key: str) -> float | None:
        return mean(getattr(r, side).metrics[key] for r in results)

    after_hit = [r for r in results if r.index > 0 and hits[(r.thread_id, r.index - 1)] == 1.0]

    figures: dict[str, float | None] = {
        "hit@1": avg("in_thread", "hit@1"),
        "hit@1_alone": avg("alone", "hit@1"),
        "hit@1_after_hit": mean(r.in_thread.metrics["hit@1"] for r in after_hit),
        "fact_coverage": avg("in_thread", "fact_coverage"),
        "fact_coverage_alone": avg("alone", "fact_coverage"),
        "citation_precision": avg("in_thread", "citation_precision"),
        "citation_precision_alone": avg("alone", "citation_precision"),
        "dragged_rate": _share([r.dragged for r in results]),
        "dragged_rate_alone": _share([r.dragged_alone for r in results]),
        "context_right": _share([r.context_right for r in results]),
    }
    return {key: None if value is None else round(value, DECIMALS) for key, value in figures.items()}


def summarise(results: Sequence[TurnResult]) -> ThreadSummary:
    """Figures per kind (in :data:`~eval.threads.KINDS` order, kinds with no turns left out)
    and over all turns; the input order does not matter."""
    kinds = {kind: [r for r in results if r.kind == kind] for kind in KINDS}
    kinds = {kind: rows for kind, rows in kinds.items() if rows}
    threads: dict[str, list[TurnResult]] = {}
    for result in results:
        threads.setdefault(result.thread_id, []).append(result)
    all_hit = sum(1 for rows in threads.values() if all(r.in_thread.metrics["hit@1"] == 1.0 for r in rows))
    hits = {(r.thread_id, r.index): r.in_thread.metrics["hit@1"] for r in results}
    by_kind = {kind: _figures(rows, hits) for kind, rows in kinds.items()}
    by_kind[ALL] = _figures(results, hits)
    return ThreadSummary(
        counts={"threads": len(threads), "turns": len(results), "threads_all_hit@1": all_hit},
        by_kind=by_kind,
        turns_by_kind={**{kind: len(rows) for kind, rows in kinds.items()}, ALL: len(results)},
    )

