"""Report files: contents, determinism, escaping of untrusted text, self-containment."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eval.gold import GoldItem
from eval.html_report import bar_chart, histogram
from eval.metrics import (
    Observation,
    QuestionResult,
    aggregate,
    default_slide_key,
    score_question,
)
from eval.report import write_reports
from eval.text_report import format_terminal_table, render_markdown

DOC = "csp-for-sellers.md"
EVIL_QUESTION = "What does <script>alert('q')</script> do | in CSP?"
EVIL_ANSWER = 'Answer "><img src=x onerror=alert(1)> & <b>bold</b>'
EVIL_QUOTE = "</blockquote><script>alert('quote')</script>"


def key(slide: int) -> str:
    return default_slide_key(DOC, slide)


def gold(id_: str, scenario: str, slides: tuple[int, ...], question: str) -> GoldItem:
    return GoldItem(
        id=id_,
        question=question,
        scenario=scenario,
        slides=slides,
        facts=(("net new opportunity",),) if slides else (),
        must_not=(),
        abstain=not slides,
        tags=(),
    )


def observation(answer: str, *, abstained: bool = False, **kw: object) -> Observation:
    fields: dict[str, object] = {
        "retrieved": (key(6), key(3)),
        "answer": answer,
        "abstained": abstained,
        "cited": (key(6),),
        "quotes": ("treat it as a net new opportunity",),
        "confidence": 0.7,
        "latency_ms": 120.0,
    }
    fields.update(kw)
    return Observation(**fields)  # type: ignore[arg-type]


@pytest.fixture
def results() -> list[QuestionResult]:
    return [
        score_question(
            gold("s3-01", "s3", (6, 3), "Partner can\u2019t support it \u2013 what now?"),
            observation("It is a net new opportunity [1]."),
        ),
        score_question(
            gold("s3-02", "s3", (6,), EVIL_QUESTION),
            observation(EVIL_ANSWER, quotes=(EVIL_QUOTE,), latency_ms=480.0, confidence=0.4),
        ),
        score_question(
            gold('oos-"1"', "out-of-scope", (), "Capital of France?"),
            observation("Not in the deck.", abstained=True, cited=(), quotes=(), confidence=0.1),
        ),
        score_question(
            gold("oos-2", "out-of-scope", (), "Weather tomorrow?"),
            observation("Sunny.", confidence=0.55, latency_ms=95.5),
        ),
    ]


PROVENANCE = {
    "git_commit": "0123abc",
    "gold_file": "eval/gold/dev.jsonl",
    "gold_sha256": "f" * 64,
    "index_manifest": {"index_version": "v1", "model_name": "all-MiniLM-L6-v2"},
    "settings": {"top_k": 5},
}


def write(tmp_path: Path, results: list[QuestionResult]) -> dict[str, Path]:
    return write_reports(
        tmp_path / "run", results=results, summary=aggregate(results), provenance=PROVENANCE
    )


def test_write_reports_writes_three_files(tmp_path: Path, results: list[QuestionResult]) -> None:
    paths = write(tmp_path, results)
    assert sorted(paths) == ["report.html", "results.json", "summary.md"]
    assert all(path.parent == tmp_path / "run" and path.is_file() for path in paths.values())


def test_results_json_holds_provenance_summary_and_every_question(
    tmp_path: Path, results: list[QuestionResult]
) -> None:
    text = write(tmp_path, results)["results.json"].read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "can\u2019t" in text  # ensure_ascii=False keeps the text readable
    assert data["provenance"] == PROVENANCE
    assert data["summary"] == json.loads(json.dumps(aggregate(results).to_dict()))
    assert [q["id"] for q in data["questions"]] == ["s3-01", "s3-02", 'oos-"1"', "oos-2"]
    first = data["questions"][0]
    assert first["relevant"] == [key(6), key(3)] and first["slides"] == [6, 3]
    assert first["retrieved"] == [key(6), key(3)]
    assert first["cited"] == [key(6)] and first["quotes"] == ["treat it as a net new opportunity"]
    assert first["passed"] is True and first["reasons"] == []
    assert first["metrics"]["fact_coverage"] == 1.0
    assert data["questions"][3]["reasons"] == ["answered an out-of-scope question"]


def test_reports_are_identical_for_identical_runs(
    tmp_path: Path, results: list[QuestionResult]
) -> None:
    one = write(tmp_path / "a", results)
    two = write(tmp_path / "b", results)
    for name in one:
        assert one[name].read_bytes() == two[name].read_bytes(), name


def test_summary_md_has_tables_and_failed_questions(
    tmp_path: Path, results: list[QuestionResult]
) -> None:
    text = write(tmp_path, results)["summary.md"].read_text(encoding="utf-8")
    for label in ("hit@1", "MRR@10", "nDCG@5", "fact coverage", "citation precision",
                  "abstention recall", "false-abstention rate", "mean answer words",
                  "latency p50 (ms)", "latency p95 (ms)"):  # fmt: skip
        assert f"| {label} |" in text
    assert "| out-of-scope | 2 | 1/2 |" in text
    assert "## Failed questions (2)" in text
    assert "  - answered an out-of-scope question" in text
    assert "  - fact coverage 0.00 below 0.50" in text
    # untrusted text is inert in Markdown: no raw tag, table pipes escaped
    assert "<script>" not in text and "&lt;script&gt;" in text and "do \\| in CSP" in text


def test_markdown_renders_without_failures(results: list[QuestionResult]) -> None:
    passed = [r for r in results if r.passed]
    assert "## Failed questions (0)\n\nNone." in render_markdown(passed, aggregate(passed), {})


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_report_html_escapes_untrusted_text(tmp_path: Path, results: list[QuestionResult]) -> None:
    page = write(tmp_path, results)["report.html"].read_text(encoding="utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;q&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;/blockquote&gt;&lt;script&gt;" in page
    assert 'id="q-oos-&quot;1&quot;"' in page
    parser = _Tags()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert {"script", "img", "b", "link", "iframe", "object"}.isdisjoint(tags)


def test_report_html_is_self_contained(tmp_path: Path, results: list[QuestionResult]) -> None:
    page = write(tmp_path, results)["report.html"].read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_report_html_has_charts_and_question_table(
    tmp_path: Path, results: list[QuestionResult]
) -> None:
    page = write(tmp_path, results)["report.html"].read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("svg") == 3  # per scenario, latency, confidence
    assert "Per scenario: hit@1 and fact coverage" in page
    assert "Latency (ms): questions per bin" in page
    assert "in scope (n=2)" in page and "out of scope (n=2)" in page
    assert tags.count("details") == 2 * len(results)  # answer and citations of each question
    rows = [attrs["id"] for tag, attrs in parser.tags if tag == "tr" and attrs.get("id")]
    assert rows == ["q-s3-01", "q-s3-02", 'q-oos-"1"', "q-oos-2"]
    assert page.count('class="fail"') == 2 and page.count('class="pass"') == 2
    assert "treat it as a net new opportunity" in page


def test_report_html_handles_an_empty_run(tmp_path: Path) -> None:
    paths = write_reports(tmp_path, results=[], summary=aggregate([]), provenance={})
    page = paths["report.html"].read_text(encoding="utf-8")
    assert "No latencies." in page and "No confidences." in page


def test_format_terminal_table(results: list[QuestionResult]) -> None:
    table = format_terminal_table(aggregate(results))
    lines = table.splitlines()
    assert any(re.fullmatch(r"hit@1\s+1\.0000", line) for line in lines)
    assert any(re.fullmatch(r"latency p95 \(ms\)\s+480\.0", line) for line in lines)
    assert any(re.fullmatch(r"out-of-scope\s+2\s+1\s+n/a\s+n/a\s+n/a", line) for line in lines)
    assert any(line.startswith("s3 ") for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_histogram_and_bar_chart() -> None:
    assert histogram([0.0, 0.05, 0.1, 0.95, 1.0], 0.0, 1.0, 10) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert histogram([5.0, 5.0], 5.0, 5.0, 1) == [2]
    assert histogram([-1.0, 2.0], 0.0, 1.0, 2) == [1, 1]  # clamped into the end bins
    svg = bar_chart("t<i>", ["a&b", "c"], [("s", [0.5, None])], y_max=1.0)
    assert svg.count("<rect") == 2  # one bar (None draws none) and one legend swatch
    assert "t&lt;i&gt;" in svg and "a&amp;b" in svg
