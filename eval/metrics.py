"""Scoring a gold-set run (pure): the per-question pass rule and the aggregation of a run.

The figures themselves live by what they measure; this module applies them to one question
(:func:`score_question`) and sums a run up (:func:`aggregate`):

- :mod:`eval.retrieval_metrics`: ``hit@k``, ``recall@k``, ``rr@k``, ``nDCG@k`` on slide ids.
- :mod:`eval.answer_metrics`: facts, forbidden phrases, citations, answer length and the
  whole-set abstention precision, recall and false-abstention rate.
- :mod:`eval.stats`: the nearest-rank percentile (always an observed value, no
  interpolation) and the exact mean behind the medians, means and latency percentiles.

Set-level figures (means, pass rate, abstention ratios) with an empty denominator are ``None``
(JSON ``null``), never a made-up 0 or 1; the per-question cases are fixed in the modules above.
Every figure is rounded to :data:`DECIMALS` so two runs compare byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from eval.answer_metrics import (
    abstention_metrics,
    answer_words,
    citation_precision,
    citation_recall,
    fact_coverage,
    missing_facts,
    must_not_violations,
)
from eval.gold import SCENARIOS, GoldItem
from eval.retrieval_metrics import dedupe, hit_at_k, mrr_at_k, ndcg_at_k, rank_of, recall_at_k
from eval.stats import mean, percentile, ratio

DECIMALS = 4
"""Every figure is rounded to this many decimals, so two runs compare byte for byte."""

SlideKey = Callable[[str, int], str]
"""Maps (source document, slide number) to the slide id used in retrieved and cited lists."""


def default_slide_key(source: str, slide: int) -> str:
    """``("csp-for-sellers.md", 9) -> "csp-for-sellers.md#9"``."""
    return f"{source}#{slide}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)


# --- one question -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observation:
    """What the system did for one question."""

    retrieved: tuple[str, ...]
    """Slide ids in rank order (deduplicated)."""
    answer: str
    abstained: bool
    cited: tuple[str, ...]
    """Slide ids of the citations, in citation order."""
    quotes: tuple[str, ...]
    confidence: float
    latency_ms: float


@dataclass(frozen=True, slots=True)
class PassRule:
    """When a question counts as passed. Citations are reported, not part of the rule."""

    primary_k: int = 3
    """An in-scope question needs its primary slide among this many distinct retrieved slides:
    the answerer reads the top few passages, so a primary slide at rank 8 is a retrieval miss."""

    min_fact_coverage: float = 0.5
    """An in-scope answer must state at least this fraction of the key facts: half lets a
    concise answer pass while one that misses the point fails."""


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """A gold item, what the system did, the per-question figures and the verdict.

    ``passed`` is true exactly when ``reasons`` is empty.
    """

    item: GoldItem
    observation: Observation
    metrics: Mapping[str, float]
    passed: bool
    reasons: tuple[str, ...]
    relevant: tuple[str, ...] = ()
    """The gold slides as slide ids (``slide_key(source, slide)``), primary first."""


def score_question(
    item: GoldItem,
    observation: Observation,
    slide_key: SlideKey = default_slide_key,
    rule: PassRule = PassRule(),
) -> QuestionResult:
    """Score one question and apply the pass rule.

    In scope (``item.abstain`` false): passes when the system did not abstain, the primary
    slide is in the top ``rule.primary_k``, fact coverage is at least ``rule.min_fact_coverage``
    and no ``must_not`` phrase occurs. Out of scope: passes when the system abstained and no
    ``must_not`` phrase occurs. Every failed condition adds a reason.
    """
    obs = observation
    relevant = tuple(slide_key(item.source, slide) for slide in item.slides)
    violations = must_not_violations(obs.answer, item.must_not)
    metrics: dict[str, float] = {
        "abstained": float(obs.abstained),
        "answer_words": float(answer_words(obs.answer)),
        "must_not_violations": float(len(violations)),
    }
    reasons: list[str] = []
    if item.answerable:
        ranked = dedupe(obs.retrieved)
        coverage = fact_coverage(obs.answer, item.facts, abstained=obs.abstained)
        metrics |= {
            "hit@1": hit_at_k(ranked, relevant, 1),
            "hit@3": hit_at_k(ranked, relevant, 3),
            "hit@5": hit_at_k(ranked, relevant, 5),
            "recall@5": recall_at_k(ranked, relevant, 5),
            "rr@10": mrr_at_k(ranked, relevant, 10),
            "ndcg@5": ndcg_at_k(ranked, relevant, 5),
            f"primary@{rule.primary_k}": hit_at_k(ranked, relevant[:1], rule.primary_k),
            "fact_coverage": coverage,
            "citation_precision": citation_precision(obs.cited, relevant),
            "citation_recall": citation_recall(obs.cited, relevant),
        }
        if obs.abstained:
            reasons.append("abstained on an in-scope question")
        rank = rank_of(ranked, relevant[0])
        if rank is None or rank > rule.primary_k:
            where = "not retrieved" if rank is None else f"rank {rank}"
            reasons.append(f"primary slide {item.slides[0]} not in top {rule.primary_k} ({where})")
        if not obs.abstained and coverage < rule.min_fact_coverage:
            reasons.append(f"fact coverage {coverage:.2f} below {rule.min_fact_coverage:.2f}")
            reasons.extend(
                f"fact {i + 1} missing: {list(item.facts[i])!r}"
                for i in missing_facts(obs.answer, item.facts)
            )
    elif not obs.abstained:
        reasons.append("answered an out-of-scope question")
    reasons.extend(f"must-not phrase present: {phrase!r}" for phrase in violations)
    rounded = {key: round(value, DECIMALS) for key, value in metrics.items()}
    return QuestionResult(item, obs, rounded, not reasons, tuple(reasons), relevant)


# --- aggregation ------------------------------------------------------------------------------

ANSWERABLE_FIGURES = (
    "hit@1", "hit@3", "hit@5", "recall@5", "rr@10", "ndcg@5",
    "fact_coverage", "citation_precision", "citation_recall",
)  # fmt: skip
"""Per-question metrics averaged over in-scope questions (``rr@10`` becomes ``mrr@10``), plus
the ``primary@k`` of the pass rule in use."""


def scenario_order(scenario: str) -> tuple[int, str]:
    """Sort key: s1..s8 in deck order, then general, then out-of-scope, then anything else."""
    known = SCENARIOS.index(scenario) if scenario in SCENARIOS else len(SCENARIOS)
    return (known, scenario)


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """Counts and quality figures of a group of questions (the whole set or one scenario)."""

    counts: Mapping[str, int]
    figures: Mapping[str, float | None]

    def to_dict(self) -> dict[str, object]:
        return {"counts": dict(self.counts), "figures": dict(self.figures)}


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Wall-clock figures, kept apart from quality: they differ between identical runs."""

    n: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "mean_ms": self.mean_ms,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "max_ms": self.max_ms,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """Aggregates of a run. :meth:`quality` is deterministic; latency lives beside it."""

    overall: GroupSummary
    by_scenario: Mapping[str, GroupSummary]
    latency: LatencySummary
    latency_by_scenario: Mapping[str, LatencySummary] = field(default_factory=dict)

    def quality(self) -> dict[str, object]:
        """Everything but timing: byte-identical across runs of the same system on the same gold."""
        return {
            "overall": self.overall.to_dict(),
            "by_scenario": {name: group.to_dict() for name, group in self.by_scenario.items()},
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "quality": self.quality(),
            "latency": {
                "overall": self.latency.to_dict(),
                "by_scenario": {k: v.to_dict() for k, v in self.latency_by_scenario.items()},
            },
        }


def quality_json(summary: Summary) -> str:
    """Canonical JSON of the quality figures (sorted keys), for byte-for-byte comparison."""
    return json.dumps(summary.quality(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _group(results: Sequence[QuestionResult]) -> GroupSummary:
    answerable = [r for r in results if r.item.answerable]
    answered = [r for r in results if not r.observation.abstained]
    figures: dict[str, float | None] = {
        "pass_rate": ratio(sum(1 for r in results if r.passed), len(results))
    }
    primary = sorted({key for r in answerable for key in r.metrics if key.startswith("primary@")})
    for key in (*ANSWERABLE_FIGURES, *primary):
        name = "mrr@10" if key == "rr@10" else key
        figures[name] = mean(r.metrics[key] for r in answerable if key in r.metrics)
    figures |= abstention_metrics(
        [r.item.abstain for r in results], [r.observation.abstained for r in results]
    )
    figures["must_not_rate"] = ratio(
        sum(1 for r in results if r.metrics.get("must_not_violations", 0.0) > 0), len(results)
    )
    figures["answer_words_mean"] = mean(r.metrics["answer_words"] for r in answered)
    figures["answer_words_median"] = percentile((r.metrics["answer_words"] for r in answered), 50)
    counts = {
        "questions": len(results),
        "in_scope": len(answerable),
        "out_of_scope": len(results) - len(answerable),
        "passed": sum(1 for r in results if r.passed),
        "failed": sum(1 for r in results if not r.passed),
        "abstained": sum(1 for r in results if r.observation.abstained),
    }
    return GroupSummary(counts, {key: _round(value) for key, value in figures.items()})


def _latency(results: Sequence[QuestionResult]) -> LatencySummary:
    values = [r.observation.latency_ms for r in results]
    return LatencySummary(
        n=len(values),
        mean_ms=_round(mean(values)),
        p50_ms=_round(percentile(values, 50)),
        p95_ms=_round(percentile(values, 95)),
        max_ms=_round(max(values)) if values else None,
    )


def aggregate(results: Sequence[QuestionResult]) -> Summary:
    """Summarise a run overall and per scenario; the input order does not matter."""
    scenarios: dict[str, list[QuestionResult]] = {}
    for result in results:
        scenarios.setdefault(result.item.scenario, []).append(result)
    names = sorted(scenarios, key=scenario_order)
    return Summary(
        overall=_group(results),
        by_scenario={name: _group(scenarios[name]) for name in names},
        latency=_latency(results),
        latency_by_scenario={name: _latency(scenarios[name]) for name in names},
    )
