"""Pure evaluation metrics, the per-question pass rule and the aggregation of a run.

Definitions (each function's docstring has the details):

- Retrieval is scored on *slide ids* (``"csp-for-sellers.md#9"``, or any hashable id), in
  retrieval order, deduplicated first-occurrence-wins: several chunks of one slide count once.
  ``hit@k`` (any relevant slide in the top k), ``recall@k``, reciprocal rank ``rr@k`` (its mean is
  MRR) and ``ndcg@k`` with graded gains: the primary slide (listed first in the gold record)
  gains 2, every other relevant slide 1, so finding the primary slide first scores best.
  With no relevant slides every retrieval metric is 0.0, and :func:`aggregate` averages them
  over answerable questions only.
- Facts and forbidden phrases are matched on :func:`~eval.gold.normalise`-d text, at word
  boundaries (``"ea"`` does not match inside ``"each"``).
- Citations: precision = cited slides that are relevant / cited slides, recall = relevant slides
  cited / relevant slides; both 0.0 when nothing is cited (an uncited answer is ungrounded).
- Abstention is a binary classification over the whole set: precision = correct abstentions /
  abstentions, recall = correct abstentions / questions that should be abstained on,
  false-abstention rate = abstentions on in-scope questions / in-scope questions.
- Latency percentiles use the nearest-rank method: always an observed value, no interpolation.
- Set-level figures (means, pass rate, abstention ratios) with an empty denominator are ``None``
  (JSON ``null``), never a made-up 0 or 1; the per-question cases are fixed above.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from eval.gold import SCENARIOS, GoldItem, normalise

H = TypeVar("H", bound=Hashable)

DECIMALS = 4
"""Every figure is rounded to this many decimals, so two runs compare byte for byte."""

SlideKey = Callable[[str, int], str]
"""Maps (source document, slide number) to the slide id used in retrieved and cited lists."""


def default_slide_key(source: str, slide: int) -> str:
    """``("csp-for-sellers.md", 9) -> "csp-for-sellers.md#9"``."""
    return f"{source}#{slide}"


# --- text -------------------------------------------------------------------------------------


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` after normalising both, at word boundaries.

    A boundary is only required where the phrase itself starts or ends with a letter or digit,
    so ``"(csp)"`` still matches in ``"buy (csp)."``.
    """
    needle = normalise(phrase)
    if not needle:
        return False
    pattern = re.escape(needle)
    if needle[0].isalnum():
        pattern = r"(?<!\w)" + pattern
    if needle[-1].isalnum():
        pattern += r"(?!\w)"
    return re.search(pattern, normalise(text)) is not None


_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


def answer_words(text: str) -> int:
    """Words in an answer: whitespace-separated tokens with a letter or digit in them.

    Citation markers such as ``[1]`` or ``[1, 2]`` are not words; ``co-sell`` is one word.
    """
    return sum(1 for token in _MARKER.sub(" ", text).split() if any(c.isalnum() for c in token))


# --- retrieval --------------------------------------------------------------------------------


def dedupe(ids: Iterable[H]) -> tuple[H, ...]:
    """Keep the first occurrence of each id, in order."""
    return tuple(dict.fromkeys(ids))


def _top(ranked: Iterable[H], k: int) -> tuple[H, ...]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return dedupe(ranked)[:k]


def hit_at_k(ranked: Sequence[H], relevant: Iterable[H], k: int) -> float:
    """1.0 when any relevant id is among the first ``k`` distinct ranked ids, else 0.0."""
    wanted = set(relevant)
    return 1.0 if any(doc in wanted for doc in _top(ranked, k)) else 0.0


def recall_at_k(ranked: Sequence[H], relevant: Iterable[H], k: int) -> float:
    """Distinct relevant ids among the first ``k`` / distinct relevant ids (0.0 if none)."""
    wanted = set(relevant)
    top = _top(ranked, k)
    if not wanted:
        return 0.0
    return sum(1 for doc in top if doc in wanted) / len(wanted)


def mrr_at_k(ranked: Sequence[H], relevant: Iterable[H], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the top ``k`` (0.0 if none there).

    This is the per-question figure (``rr@k``); its mean over questions is MRR@k.
    """
    wanted = set(relevant)
    for rank, doc in enumerate(_top(ranked, k), start=1):
        if doc in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(
    ranked: Sequence[H], relevant: Sequence[H], k: int = 5, *, primary_gain: float = 2.0
) -> float:
    """Normalised DCG over the top ``k`` with linear gains and a ``log2(rank + 1)`` discount.

    ``relevant[0]`` is the primary slide and gains ``primary_gain`` (2 by default), every other
    relevant id gains 1; ``primary_gain=1`` gives plain binary nDCG. The ideal ranking puts the
    primary first, so the score is 1.0 exactly when the top ranks hold the primary slide
    followed by the other relevant slides.
    """
    if primary_gain <= 0:
        raise ValueError(f"primary_gain must be positive, got {primary_gain}")
    top = _top(ranked, k)
    wanted = dedupe(relevant)
    if not wanted:
        return 0.0
    gains = dict.fromkeys(wanted, 1.0)
    gains[wanted[0]] = primary_gain
    dcg = sum(gains.get(doc, 0.0) / math.log2(rank + 1) for rank, doc in enumerate(top, 1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, 1))
    return dcg / idcg


def rank_of(ranked: Sequence[H], doc: H) -> int | None:
    """1-based rank of ``doc`` among the distinct ranked ids, or None if not retrieved."""
    for rank, candidate in enumerate(dedupe(ranked), start=1):
        if candidate == doc:
            return rank
    return None


# --- answer content ---------------------------------------------------------------------------


def missing_facts(answer: str, facts: Sequence[Sequence[str]]) -> tuple[int, ...]:
    """0-based indices of the fact groups none of whose phrases occur in the answer."""
    return tuple(
        i for i, group in enumerate(facts) if not any(contains_phrase(answer, p) for p in group)
    )


def fact_coverage(answer: str, facts: Sequence[Sequence[str]], *, abstained: bool = False) -> float:
    """Fraction of fact groups with at least one phrase in the answer.

    An abstention covers nothing (0.0), whatever its text says; an answer to a question with
    no fact groups covers everything (1.0).
    """
    if abstained:
        return 0.0
    if not facts:
        return 1.0
    return 1.0 - len(missing_facts(answer, facts)) / len(facts)


def must_not_violations(answer: str, must_not: Iterable[str]) -> tuple[str, ...]:
    """The forbidden phrases that occur in the answer, in gold order."""
    return tuple(phrase for phrase in must_not if contains_phrase(answer, phrase))


def citation_precision(cited: Iterable[H], relevant: Iterable[H]) -> float:
    """Distinct cited ids that are relevant / distinct cited ids (0.0 when nothing is cited)."""
    distinct = dedupe(cited)
    if not distinct:
        return 0.0
    wanted = set(relevant)
    return sum(1 for doc in distinct if doc in wanted) / len(distinct)


def citation_recall(cited: Iterable[H], relevant: Iterable[H]) -> float:
    """Distinct relevant ids that are cited / distinct relevant ids (0.0 when none relevant)."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return len(wanted & set(cited)) / len(wanted)


# --- whole-set figures ------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def abstention_metrics(
    expected: Sequence[bool], abstained: Sequence[bool]
) -> dict[str, float | None]:
    """Precision, recall and false-abstention rate of abstaining, over paired flags.

    ``expected[i]`` is the gold ``abstain`` of question i, ``abstained[i]`` what the system did.
    A figure whose denominator is empty is None.
    """
    if len(expected) != len(abstained):
        raise ValueError(f"{len(expected)} expectations but {len(abstained)} outcomes")
    pairs = list(zip(expected, abstained, strict=True))
    correct = sum(1 for e, a in pairs if e and a)
    false = sum(1 for e, a in pairs if a and not e)
    return {
        "abstention_precision": _ratio(correct, sum(1 for _, a in pairs if a)),
        "abstention_recall": _ratio(correct, sum(1 for e, _ in pairs if e)),
        "false_abstention_rate": _ratio(false, sum(1 for e, _ in pairs if not e)),
    }


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``p``% of values at or below.

    ``p50`` of ``[1, 2, 3, 4]`` is 2 and ``p95`` of 20 values is the 19th smallest. None when
    there are no values.
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean with exact summation (independent of order), None when empty."""
    items = list(values)
    return math.fsum(items) / len(items) if items else None


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
        "pass_rate": _ratio(sum(1 for r in results if r.passed), len(results))
    }
    primary = sorted({key for r in answerable for key in r.metrics if key.startswith("primary@")})
    for key in (*ANSWERABLE_FIGURES, *primary):
        name = "mrr@10" if key == "rr@10" else key
        figures[name] = mean(r.metrics[key] for r in answerable if key in r.metrics)
    figures |= abstention_metrics(
        [r.item.abstain for r in results], [r.observation.abstained for r in results]
    )
    figures["must_not_rate"] = _ratio(
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
