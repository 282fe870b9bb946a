"""Write a run's reports: ``results.json``, ``summary.md`` and a self-contained ``report.html``.

The HTML file works offline and from an e-mail attachment: inline CSS, charts as inline SVG
drawn here, no script at all (a Content-Security-Policy meta tag forbids any), no external
asset. Questions and answers are untrusted text, so every string goes through
:func:`html.escape` before it reaches the page.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.metrics import QuestionResult, Summary, mean, percentile

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


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _fmt_figure(key: str, value: float | None) -> str:
    return _fmt(value, 1 if key.startswith("answer_words") else 4)


def _headline_sentence(summary: Summary) -> str:
    counts = summary.overall.counts
    return (
        f"{counts['questions']} questions ({counts['in_scope']} in scope, "
        f"{counts['out_of_scope']} out of scope): {counts['passed']} passed, "
        f"{counts['failed']} failed."
    )


def _headline_rows(summary: Summary) -> list[tuple[str, str]]:
    figures = summary.overall.figures
    rows = [(label, _fmt_figure(key, figures.get(key))) for label, key in HEADLINE]
    rows.append(("latency p50 (ms)", _fmt(summary.latency.p50_ms, 1)))
    rows.append(("latency p95 (ms)", _fmt(summary.latency.p95_ms, 1)))
    return rows


def _scenario_rows(summary: Summary) -> list[list[str]]:
    rows = []
    for name, group in summary.by_scenario.items():
        counts = group.counts
        row = [name, str(counts["questions"]), f"{counts['passed']}/{counts['questions']}"]
        row += [_fmt(group.figures.get(key)) for _, key in SCENARIO_COLUMNS]
        rows.append(row)
    return rows


_SCENARIO_HEADER = ("scenario", "n", "passed", *(label for label, _ in SCENARIO_COLUMNS))


# --- results.json -----------------------------------------------------------------------------


def result_to_dict(result: QuestionResult) -> dict[str, object]:
    """One question of ``results.json``: the gold item, what the system did, and the verdict."""
    item, obs = result.item, result.observation
    return {
        "id": item.id,
        "question": item.question,
        "scenario": item.scenario,
        "tags": list(item.tags),
        "source": item.source,
        "slides": list(item.slides),
        "relevant": list(result.relevant),
        "expected_abstain": item.abstain,
        "facts": [list(group) for group in item.facts],
        "must_not": list(item.must_not),
        "retrieved": list(obs.retrieved),
        "answer": obs.answer,
        "abstained": obs.abstained,
        "cited": list(obs.cited),
        "quotes": list(obs.quotes),
        "confidence": round(obs.confidence, 4),
        "latency_ms": round(obs.latency_ms, 3),
        "metrics": dict(result.metrics),
        "passed": result.passed,
        "reasons": list(result.reasons),
    }


def results_json(
    results: Sequence[QuestionResult], summary: Summary, provenance: Mapping[str, object]
) -> str:
    """The full record of a run, with sorted keys so equal runs give equal files."""
    document = {
        "provenance": dict(provenance),
        "summary": summary.to_dict(),
        "questions": [result_to_dict(r) for r in results],
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"


# --- summary.md -------------------------------------------------------------------------------


def _md(text: object) -> str:
    """One table-safe, HTML-inert line of Markdown."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(
    results: Sequence[QuestionResult], summary: Summary, provenance: Mapping[str, object]
) -> str:
    lines = ["# Evaluation summary", "", _headline_sentence(summary), ""]
    lines += [f"- {_md(key)}: {_md(_compact(value))}" for key, value in provenance.items()]
    lines += ["", "## Headline", ""]
    lines += _md_table(("metric", "value"), _headline_rows(summary))
    lines += ["", "## Per scenario", ""]
    lines += _md_table(_SCENARIO_HEADER, _scenario_rows(summary))
    failed = [r for r in results if not r.passed]
    lines += ["", f"## Failed questions ({len(failed)})", ""]
    for r in failed:
        lines.append(f"- **{_md(r.item.id)}** ({_md(r.item.scenario)}): {_md(r.item.question)}")
        lines += [f"  - {_md(reason)}" for reason in r.reasons]
    if not failed:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _compact(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


# --- terminal ---------------------------------------------------------------------------------


def format_terminal_table(summary: Summary) -> str:
    """A short plain-text table: headline figures, then one line per scenario."""
    rows = _headline_rows(summary)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:>9}" for label, value in rows]
    header = ("scenario", "n", "passed", "hit@1", "facts", "false abst.")
    table = [header] + [
        (
            name,
            str(group.counts["questions"]),
            str(group.counts["passed"]),
            _fmt(group.figures.get("hit@1")),
            _fmt(group.figures.get("fact_coverage")),
            _fmt(group.figures.get("false_abstention_rate")),
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


# --- SVG charts -------------------------------------------------------------------------------

_COLOURS = ("#3b6ea5", "#d08c2f")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    y_max: float | None = None,
    digits: int = 2,
) -> str:
    """Grouped vertical bars as an inline ``<svg>``; a None value draws no bar."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = y_max if y_max is not None else max([*values, 0.0]) or 1.0
    group_w = max(24, 16 * len(series) + 12)
    left, bottom, height = 44, 70, 180
    width = max(left + group_w * max(1, len(categories)) + 10, left + 150 * len(series))
    total = height + bottom + 34
    parts = [
        f'<svg role="img" width="{width}" height="{total}" viewBox="0 0 {width} {total}">',
        f"<title>{_e(title)}</title>",
        f'<text x="{left}" y="14" class="t">{_e(title)}</text>',
    ]
    base = height + 24
    for tick in (0.0, 0.5, 1.0):
        y = base - tick * height
        parts.append(f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" class="y">{_fmt(top * tick, digits)}</text>'
        )
    bar_w = (group_w - 12) / max(1, len(series))
    for i, category in enumerate(categories):
        x0 = left + i * group_w + 6
        for j, (name, vs) in enumerate(series):
            value = vs[i]
            if value is None:
                continue
            h = 0.0 if top <= 0 else min(1.0, max(0.0, value / top)) * height
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{base - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{h:.1f}" fill="{_COLOURS[j % len(_COLOURS)]}">'
                f"<title>{_e(category)} {_e(name)}: {_fmt(value, digits)}</title></rect>"
            )
        cx = x0 + (group_w - 12) / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{base + 12}" class="x" '
            f'transform="rotate(35 {cx:.1f} {base + 12})">{_e(category)}</text>'
        )
    for j, (name, _) in enumerate(series):
        x = left + j * 150
        y = height + bottom + 28
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
            f'fill="{_COLOURS[j % len(_COLOURS)]}"/><text x="{x + 14}" y="{y}">{_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    """Counts of values in ``bins`` equal bins over [lo, hi]; the last bin includes ``hi``."""
    counts = [0] * bins
    width = (hi - lo) / bins
    for value in values:
        index = 0 if width <= 0 else int((value - lo) / width)
        counts[min(max(index, 0), bins - 1)] += 1
    return counts


def _latency_chart(results: Sequence[QuestionResult]) -> str:
    values = sorted(r.observation.latency_ms for r in results)
    if not values:
        return "<p>No latencies.</p>"
    lo, hi = values[0], values[-1]
    bins = 1 if hi == lo else min(12, max(1, math.ceil(math.sqrt(len(values)))))
    step = (hi - lo) / bins
    labels = [f"{lo + i * step:.0f}-{lo + (i + 1) * step:.0f}" for i in range(bins)]
    counts = histogram(values, lo, hi, bins)
    return bar_chart(
        "Latency (ms): questions per bin",
        labels,
        [("questions", counts)],
        y_max=max(counts),
        digits=0,
    )


def _confidence_section(results: Sequence[QuestionResult]) -> str:
    groups = (
        ("in scope", [r.observation.confidence for r in results if r.item.answerable]),
        ("out of scope", [r.observation.confidence for r in results if not r.item.answerable]),
    )
    everything = [v for _, vs in groups for v in vs]
    if not everything:
        return "<p>No confidences.</p>"
    lo, hi, bins = min(0.0, *everything), max(1.0, *everything), 10
    step = (hi - lo) / bins
    labels = [f"{lo + i * step:.1f}-{lo + (i + 1) * step:.1f}" for i in range(bins)]
    shares = [
        (
            f"{name} (n={len(vs)})",
            [c / len(vs) if vs else None for c in histogram(vs, lo, hi, bins)],
        )
        for name, vs in groups
    ]
    chart = bar_chart("Confidence: share of each group per bin", labels, shares, y_max=1.0)
    stats = [
        [name, str(len(vs)), _fmt(min(vs, default=None)), _fmt(percentile(vs, 50)),
         _fmt(mean(vs)), _fmt(max(vs, default=None))]
        for name, vs in groups
    ]  # fmt: skip
    sweep = []
    for step_no in range(1, 20):
        t = step_no / 20
        kept = [v >= t for v in groups[0][1]]
        refused = [v < t for v in groups[1][1]]
        sweep.append(
            [
                f"{t:.2f}",
                _fmt(mean(kept) if kept else None),
                _fmt(mean(refused) if refused else None),
            ]
        )
    return (
        chart
        + _table(("group", "n", "min", "median", "mean", "max"), stats)
        + "<p>If the system abstained whenever confidence is below <i>t</i>:</p>"
        + _table(("t", "in scope answered", "out of scope abstained"), sweep)
    )


# --- report.html ------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2} td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17692b;font-weight:600} .fail{color:#a31515;font-weight:600}
details summary{cursor:pointer;color:#3b6ea5} pre{white-space:pre-wrap;margin:0}
blockquote{margin:.3em 0;padding-left:.6em;border-left:3px solid #ccc}
svg{display:block;margin:.5em 0} svg text{font:11px system-ui,sans-serif;fill:#333}
svg .t{font-weight:600;font-size:12px} svg .y{text-anchor:end} svg .g{stroke:#ddd}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _question_row(r: QuestionResult) -> str:
    obs = r.observation
    verdict = '<span class="pass">pass</span>' if r.passed else '<span class="fail">FAIL</span>'
    reasons = "".join(f"<li>{_e(reason)}</li>" for reason in r.reasons)
    outcome = (
        "abstained" if obs.abstained else f"answer, {r.metrics.get('answer_words', 0):.0f} words"
    )
    quotes = "".join(
        f"<li>{_e(cited)}<blockquote>{_e(quote)}</blockquote></li>"
        for cited, quote in zip(obs.cited, obs.quotes, strict=False)
    )
    figures = ", ".join(
        f"{key} {value:g}" for key, value in r.metrics.items() if key not in {"answer_words"}
    )
    return (
        f'<tr id="q-{_e(r.item.id)}"><td>{_e(r.item.id)}<br>{_e(r.item.scenario)}</td>'
        f"<td>{verdict}</td><td>{_e(r.item.question)}"
        + (f"<ul>{reasons}</ul>" if reasons else "")
        + f"</td><td><details><summary>{_e(outcome)}</summary><pre>{_e(obs.answer)}</pre>"
        f"</details></td><td><details><summary>{len(obs.cited)} cited</summary>"
        f"<ol>{quotes}</ol></details></td>"
        f"<td>relevant: {_e(', '.join(r.relevant) or '-')}<br>"
        f"retrieved: {_e(', '.join(obs.retrieved[:5]) or '-')}<br>"
        f"confidence {obs.confidence:.3f}, {obs.latency_ms:.0f} ms</td>"
        f"<td><small>{_e(figures)}</small></td></tr>"
    )


def render_html(
    results: Sequence[QuestionResult], summary: Summary, provenance: Mapping[str, object]
) -> str:
    names = list(summary.by_scenario)
    scenario_chart = bar_chart(
        "Per scenario: hit@1 and fact coverage",
        names,
        [
            ("hit@1", [summary.by_scenario[n].figures.get("hit@1") for n in names]),
            ("fact coverage", [summary.by_scenario[n].figures.get("fact_coverage") for n in names]),
        ],
        y_max=1.0,
    )
    failed = [r for r in results if not r.passed]
    failed_list = "".join(
        f'<li><a href="#q-{_e(r.item.id)}">{_e(r.item.id)}</a>: {_e("; ".join(r.reasons))}</li>'
        for r in failed
    )
    provenance_rows = [(str(k), _compact(v)) for k, v in provenance.items()]
    rows = "".join(_question_row(r) for r in results)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Evaluation report</title><style>{_CSS}</style></head><body>"
        "<h1>Evaluation report</h1>"
        f"<p>{_e(_headline_sentence(summary))}</p>"
        "<h2>Provenance</h2>" + _table(("item", "value"), provenance_rows)
        + "<h2>Headline</h2>" + _table(("metric", "value"), _headline_rows(summary))
        + "<h2>Per scenario</h2>" + scenario_chart
        + _table(_SCENARIO_HEADER, _scenario_rows(summary))
        + "<h2>Latency</h2>" + _latency_chart(results)
        + "<h2>Confidence, in scope vs out of scope</h2>" + _confidence_section(results)
        + f"<h2>Failed questions ({len(failed)})</h2>"
        + (f"<ul>{failed_list}</ul>" if failed else "<p>None.</p>")
        + "<h2>Questions</h2><table><thead><tr><th>id</th><th>result</th><th>question</th>"
        "<th>answer</th><th>citations</th><th>slides</th><th>metrics</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>\n"
    )  # fmt: skip


def write_reports(
    run_dir: Path,
    *,
    results: Sequence[QuestionResult],
    summary: Summary,
    provenance: Mapping[str, object],
) -> dict[str, Path]:
    """Write the three report files into ``run_dir`` (created if needed); returns their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_files(run_dir, {
        "results.json": results_json(results, summary, provenance),
        "summary.md": render_markdown(results, summary, provenance),
        "report.html": render_html(results, summary, provenance),
    })


def write_files(run_dir: Path, contents: Mapping[str, str]) -> dict[str, Path]:
    """``{file name: text}`` written into ``run_dir``; returns ``{file name: path}``."""
    paths = {}
    for name, text in contents.items():
        path = run_dir / name
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths
