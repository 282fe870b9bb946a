"""Reports of a thread run (``rag eval threads``): a terminal table, ``results.json`` and
``summary.md``, written the way :mod:`eval.report` writes a gold-set run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.report import write_files
from eval.tables import compact as _compact
from eval.tables import fmt as _fmt
from eval.text_report import md as _md
from eval.text_report import md_table as _md_table
from eval.thread_metrics import ThreadSummary, TurnResult

COLUMNS = (
    ("hit@1", "hit@1"),
    ("hit@1 alone", "hit@1_alone"),
    ("after hit", "hit@1_after_hit"),
    ("facts", "fact_coverage"),
    ("facts alone", "fact_coverage_alone"),
    ("cit. P", "citation_precision"),
    ("cit. P alone", "citation_precision_alone"),
    ("dragged", "dragged_rate"),
    ("dragged alone", "dragged_rate_alone"),
    ("context right", "context_right"),
)
"""Columns of the per-kind table: (label, key in the summary's figures). "alone" is the
turn's standalone text asked without history; "after hit" is hit@1 in thread over the turns
whose previous turn had hit@1."""


def headline(summary: ThreadSummary) -> str:
    counts, kinds = summary.counts, summary.turns_by_kind
    per_kind = ", ".join(f"{n} {kind}" for kind, n in kinds.items() if kind != "all")
    return (
        f"{counts['threads']} threads, {counts['turns']} turns ({per_kind}); "
        f"every turn hit@1 in {counts['threads_all_hit@1']}/{counts['threads']} threads."
    )


def _rows(summary: ThreadSummary) -> list[list[str]]:
    return [
        [kind, str(summary.turns_by_kind[kind]), *(_fmt(figures.get(key)) for _, key in COLUMNS)]
        for kind, figures in summary.by_kind.items()
    ]


_HEADER = ("kind", "turns", *(label for label, _ in COLUMNS))


def format_threads_table(summary: ThreadSummary) -> str:
    """The headline sentence, then one line per kind and one for all turns."""
    table = [list(_HEADER), *_rows(summary)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADER))]
    lines = [headline(summary), ""]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row) if i > 0]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def turn_to_dict(result: TurnResult) -> dict[str, object]:
    """One turn of ``results.json``: the gold turn and both ways it was asked."""

    def side(name: str) -> dict[str, object]:
        scored = getattr(result, name)
        obs = scored.observation
        return {
            "question": scored.item.question,
            "retrieved": list(obs.retrieved),
            "answer": obs.answer,
            "abstained": obs.abstained,
            "cited": list(obs.cited),
            "latency_ms": round(obs.latency_ms, 3),
            "metrics": dict(scored.metrics),
            "passed": scored.passed,
            "reasons": list(scored.reasons),
        }

    return {
        "thread": result.thread_id,
        "turn": result.index + 1,
        "kind": result.kind,
        "slides": list(result.turn.slides),
        "relevant": list(result.in_thread.relevant),
        "facts": [list(group) for group in result.turn.facts],
        "previous_primary": result.previous_primary,
        "context_turn": result.context_turn,
        "context_right": result.context_right,
        "dragged": result.dragged,
        "dragged_alone": result.dragged_alone,
        "in_thread": side("in_thread"),
        "alone": side("alone"),
    }


def threads_results_json(
    results: Sequence[TurnResult], summary: ThreadSummary, provenance: Mapping[str, object]
) -> str:
    """The full record of a thread run, with sorted keys so equal runs give equal files."""
    document = {
        "provenance": dict(provenance),
        "summary": summary.to_dict(),
        "turns": [turn_to_dict(r) for r in results],
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"


def render_threads_markdown(
    results: Sequence[TurnResult], summary: ThreadSummary, provenance: Mapping[str, object]
) -> str:
    lines = ["# Thread evaluation summary", "", _md(headline(summary)), ""]
    lines += [f"- {_md(key)}: {_md(_compact(value))}" for key, value in provenance.items()]
    lines += ["", "## Per kind", ""]
    lines += [
        "*alone*: the turn's standalone text asked without history; "
        "*after hit*: hit@1 in thread over the turns whose previous turn had hit@1.",
        "",
    ]
    lines += _md_table(_HEADER, _rows(summary))
    missed = [r for r in results if r.in_thread.metrics["hit@1"] < 1.0 or r.context_right is False]
    lines += ["", f"## Turns missed in thread ({len(missed)})", ""]
    for r in missed:
        why = []
        if r.in_thread.metrics["hit@1"] < 1.0:
            top = r.in_thread.observation.retrieved[:1] or ("nothing",)
            why.append(f"top slide {top[0]}, gold {', '.join(r.in_thread.relevant)}")
        if r.context_right is False:
            why.append(f"context_turn {r.context_turn} on a {r.kind}")
        if r.dragged:
            why.append(f"dragged to the previous turn's {r.previous_primary}")
        lines.append(f"- **{_md(r.thread_id)} turn {r.index + 1}** ({r.kind}): {_md(r.turn.question)}")
        lines += [f"  - {_md(reason)}" for reason in why]
    if not missed:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_thread_reports(
    run_dir: Path,
    *,
    results: Sequence[TurnResult],
    summary: ThreadSummary,
    provenance: Mapping[str, object],
) -> dict[str, Path]:
    """Write ``results.json`` and ``summary.md`` into ``run_dir`` (created); returns their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_files(run_dir, {
        "results.json": threads_results_json(results, summary, provenance),
        "summary.md": render_threads_markdown(results, summary, provenance),
    })
