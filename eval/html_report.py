"""``report.html``: one self-contained page per run, with its charts drawn as inline SVG.

The file works offline and from an e-mail attachment: inline CSS, charts as inline SVG
drawn here, no script at all (a Content-Security-Policy meta tag forbids any), no external
asset. Questions and answers are untrusted text, so every string goes through
:func:`html.escape` before it reaches the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from eval.metrics import QuestionResult, Summary
from eval.stats import mean, percentile
from eval.tables import SCENARIO_HEADER, compact, fmt, headline_rows, headline_sentence, scenario_rows

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
            f'<text x="{left - 4}" y="{y + 4:.1f}" class="y">{fmt(top * tick, digits)}</text>'
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
                f"<title>{_e(category)} {_e(name)}: {fmt(value, digits)}</title></rect>"
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
        [name, str(len(vs)), fmt(min(vs, default=None)), fmt(percentile(vs, 50)),
         fmt(mean(vs)), fmt(max(vs, default=None))]
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
                fmt(mean(kept) if kept else None),
                fmt(mean(refused) if refused else None),
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
    provenance_rows = [(str(k), compact(v)) for k, v in provenance.items()]
    rows = "".join(_question_row(r) for r in results)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Evaluation report</title><style>{_CSS}</style></head><body>"
        "<h1>Evaluation report</h1>"
        f"<p>{_e(headline_sentence(summary))}</p>"
        "<h2>Provenance</h2>" + _table(("item", "value"), provenance_rows)
        + "<h2>Headline</h2>" + _table(("metric", "value"), headline_rows(summary))
        + "<h2>Per scenario</h2>" + scenario_chart
        + _table(SCENARIO_HEADER, scenario_rows(summary))
        + "<h2>Latency</h2>" + _latency_chart(results)
        + "<h2>Confidence, in scope vs out of scope</h2>" + _confidence_section(results)
        + f"<h2>Failed questions ({len(failed)})</h2>"
        + (f"<ul>{failed_list}</ul>" if failed else "<p>None.</p>")
        + "<h2>Questions</h2><table><thead><tr><th>id</th><th>result</th><th>question</th>"
        "<th>answer</th><th>citations</th><th>slides</th><th>metrics</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>\n"
    )  # fmt: skip
