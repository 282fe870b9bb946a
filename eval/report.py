"""Write a run's reports: ``results.json``, ``summary.md`` and a self-contained ``report.html``.

``results.json`` (the full record, built here) is what later tooling reads; the two
renderings for people come from :mod:`eval.text_report` (``summary.md``, and the table
``rag eval`` prints) and :mod:`eval.html_report` (``report.html``), both drawing their cells
from :mod:`eval.tables`. :func:`write_files` is shared with the thread reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.html_report import render_html
from eval.metrics import QuestionResult, Summary
from eval.text_report import render_markdown

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


# --- files ------------------------------------------------------------------------------------


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
