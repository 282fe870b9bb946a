"""Plain-text renderings of a run: ``summary.md`` and the table ``rag eval`` prints.

Markdown cells are untrusted text (questions, answers, reasons), so :func:`md` collapses
whitespace, escapes HTML and the table's ``|``: a cell stays one inert line of one cell.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from eval.metrics import QuestionResult, Summary
from eval.tables import SCENARIO_HEADER, compact, fmt, headline_rows, headline_sentence, scenario_rows

# --- summary.md -------------------------------------------------------------------------------


def md(text: object) -> str:
    """One table-safe, HTML-inert line of Markdown."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table; every cell goes through :func:`md`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(
    results: Sequence[QuestionResult], summary: Summary, provenance: Mapping[str, object]
) -> str:
    lines = ["# Evaluation summary", "", headline_sentence(summary), ""]
    lines += [f"- {md(key)}: {md(compact(value))}" for key, value in provenance.items()]
    lines += ["", "## Headline", ""]
    lines += md_table(("metric", "value"), headline_rows(summary))
    lines += ["", "## Per scenario", ""]
    lines += md_table(SCENARIO_HEADER, scenario_rows(summary))
    failed = [r for r in results if not r.passed]
    lines += ["", f"## Failed questions ({len(failed)})", ""]
    for r in failed:
        lines.append(f"- **{md(r.item.id)}** ({md(r.item.scenario)}): {md(r.item.question)}")
        lines += [f"  - {md(reason)}" for reason in r.reasons]
    if not failed:
        lines.append("None.")
    return "\n".join(lines) + "\n"


# --- terminal ---------------------------------------------------------------------------------


def format_terminal_table(summary: Summary) -> str:
    """A short plain-text table: headline figures, then one line per scenario."""
    rows = headline_rows(summary)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:>9}" for label, value in rows]
    header = ("scenario", "n", "passed", "hit@1", "facts", "false abst.")
    table = [header] + [
        (
            name,
            str(group.counts["questions"]),
            str(group.counts["passed"]),
            fmt(group.figures.get("hit@1")),
            fmt(group.figures.get("fact_coverage")),
            fmt(group.figures.get("false_abstention_rate")),
        )
        for name, group in summary.by_scenario.items()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines.append("")
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(widths[i]) for i, cell in enumerate(row) if i > 0]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
