"""The run summary as labelled, formatted cells, shared by every rendering of it.

The headline rows, the per-scenario rows and the number formatting are defined once here,
so ``summary.md`` (:mod:`eval.text_report`), the terminal table and ``report.html``
(:mod:`eval.html_report`) show the same figures with the same digits; the thread reports
(:mod:`eval.thread_report`) format theirs with :func:`fmt` and :func:`compact` too.
"""

from __future__ import annotations

import json

from eval.metrics import Summary

HEADLINE = (
    ("pass rate", "pass_rate"),
    ("hit@1", "hit@1"),
    ("hit@3", "hit@3"),
    ("hit@5", "hit@5"),
    ("recall@5", "recall@5"),
    ("MRR@10", "mrr@10"),
    ("nDCG@5", "ndcg@5"),
    ("fact coverage", "fact_coverage"),
    ("citation precision", "citation_precision"),
    ("citation recall", "citation_recall"),
    ("abstention precision", "abstention_precision"),
    ("abstention recall", "abstention_recall"),
    ("false-abstention rate", "false_abstention_rate"),
    ("must-not rate", "must_not_rate"),
    ("mean answer words", "answer_words_mean"),
    ("median answer words", "answer_words_median"),
)
"""Rows of the headline table: (label, key in the summary's figures)."""

SCENARIO_COLUMNS = (
    ("hit@1", "hit@1"),
    ("hit@3", "hit@3"),
    ("MRR@10", "mrr@10"),
    ("nDCG@5", "ndcg@5"),
    ("facts", "fact_coverage"),
    ("cit. P", "citation_precision"),
    ("cit. R", "citation_recall"),
    ("abst. R", "abstention_recall"),
    ("false abst.", "false_abstention_rate"),
)
"""Figure columns of the per-scenario table: (label, key in a scenario's figures)."""

SCENARIO_HEADER = ("scenario", "n", "passed", *(label for label, _ in SCENARIO_COLUMNS))


def fmt(value: float | None, digits: int = 4) -> str:
    """A figure with ``digits`` decimals; ``n/a`` for None (an empty denominator)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def _fmt_figure(key: str, value: float | None) -> str:
    return fmt(value, 1 if key.startswith("answer_words") else 4)


def headline_sentence(summary: Summary) -> str:
    """How many questions, in and out of scope, passed and failed: the line above every report."""
    counts = summary.overall.counts
    return (
        f"{counts['questions']} questions ({counts['in_scope']} in scope, "
        f"{counts['out_of_scope']} out of scope): {counts['passed']} passed, "
        f"{counts['failed']} failed."
    )


def headline_rows(summary: Summary) -> list[tuple[str, str]]:
    """(label, value) of every :data:`HEADLINE` figure, then the latency p50 and p95."""
    figures = summary.overall.figures
    rows = [(label, _fmt_figure(key, figures.get(key))) for label, key in HEADLINE]
    rows.append(("latency p50 (ms)", fmt(summary.latency.p50_ms, 1)))
    rows.append(("latency p95 (ms)", fmt(summary.latency.p95_ms, 1)))
    return rows


def scenario_rows(summary: Summary) -> list[list[str]]:
    """One row per scenario under :data:`SCENARIO_HEADER`."""
    rows = []
    for name, group in summary.by_scenario.items():
        counts = group.counts
        row = [name, str(counts["questions"]), f"{counts['passed']}/{counts['questions']}"]
        row += [fmt(group.figures.get(key)) for _, key in SCENARIO_COLUMNS]
        rows.append(row)
    return rows



def compact(value: object) -> str:
    """A provenance value as one line: strings as they are, anything else as sorted JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
