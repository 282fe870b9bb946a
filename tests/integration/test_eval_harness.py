"""The evaluation harness end to end: gold sets stay true to the corpus, runs are
deterministic, reports are written, and the gate catches broken retrieval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from eval import gate
from eval.gold import load_gold, normalise
from eval.metrics import aggregate, quality_json
from eval.report import write_reports
from eval.runner import pipeline_answerer, run
from rag.corpus import load_corpus
from rag.pipeline import Pipeline
from tests.conftest import CORPUS, ROOT

GOLD = ROOT / "eval" / "gold"


@pytest.fixture(scope="module")
def gold():  # type: ignore[no-untyped-def]
    return {name: load_gold(GOLD / f"{name}.jsonl") for name in ("dev", "test")}


def test_gold_sets_have_the_promised_sizes(gold) -> None:  # type: ignore[no-untyped-def]
    # Each split on its own: >= 80 in-scope and >= 20 out-of-scope questions, every scenario
    # present, and every question kind represented (so per-tag figures mean something).
    kinds = ("low-overlap", "paraphrase", "role-intent", "yes-no", "table-link", "cross-scenario")
    for name, items in gold.items():
        counts = Counter(item.scenario for item in items)
        in_scope = [i for i in items if i.answerable]
        assert len(in_scope) >= 80, (name, len(in_scope))
        assert counts["out-of-scope"] >= 20, (name, counts["out-of-scope"])
        assert sum("near-miss" in i.tags for i in items if i.abstain) >= 10, name
        for scenario in [f"s{n}" for n in range(1, 9)]:
            assert counts[scenario] >= 6, (name, scenario)
        assert counts["general"] >= 8, name
        tags = Counter(tag for item in in_scope for tag in item.tags)
        for kind in kinds:
            assert tags[kind] >= 5, (name, kind, tags[kind])
        for item in in_scope:
            if "cross-scenario" in item.tags:  # needs two scenario slides (4-11)
                assert len([s for s in item.slides if 4 <= s <= 11]) >= 2, item.id
    every = [item for items in gold.values() for item in items]
    assert len({i.id for i in every}) == len(every)
    dev_questions = {normalise(i.question) for i in gold["dev"]}
    assert not dev_questions & {normalise(i.question) for i in gold["test"]}


def test_every_fact_phrase_occurs_in_a_cited_slide(gold) -> None:  # type: ignore[no-untyped-def]
    deck = next(d for d in load_corpus(CORPUS) if d.source == "csp-for-sellers.md")
    slide_text = {p.slide: normalise(f"{p.title}\n{p.text}") for p in deck.parts}
    for items in gold.values():
        for item in items:
            for group in item.facts:
                for phrase in group:
                    assert any(normalise(phrase) in slide_text[s] for s in item.slides), (item.id, phrase)


def test_smoke_run_is_deterministic_and_writes_reports(pipeline, gold, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    items = gold["dev"][::4]
    first = run(items, pipeline_answerer(pipeline))
    second = run(items, pipeline_answerer(pipeline))
    assert quality_json(aggregate(first)) == quality_json(aggregate(second))
    paths = write_reports(tmp_path, results=first, summary=aggregate(first), provenance={"git_commit": "x"})
    assert {p.name for p in paths.values()} == {"results.json", "summary.md", "report.html"}
    data = json.loads(paths["results.json"].read_text())
    assert len(data["questions"]) == len(items)
    assert "<svg" in paths["report.html"].read_text()


def test_gate_passes_on_main_and_fails_with_broken_retrieval(pipeline, gold) -> None:  # type: ignore[no-untyped-def]
    thresholds = gate.load_thresholds(ROOT / "eval" / "thresholds.json")
    baseline = gate.baseline_passes(ROOT / "eval" / "baseline" / "results.json")
    assert baseline, "a committed baseline run is expected"
    results = run(gold["test"], pipeline_answerer(pipeline))
    verdict = gate.check(aggregate(results), results, thresholds, baseline)
    assert verdict.passed, verdict.failures

    s = pipeline.settings
    broken_settings = replace(s, retrieval=replace(s.retrieval, dense_weight=-1.0))
    broken = Pipeline(broken_settings, pipeline.index, pipeline.embedder)
    results = run(gold["test"], pipeline_answerer(broken))
    verdict = gate.check(aggregate(results), results, thresholds, baseline)
    assert not verdict.passed
    assert any("threshold" in f for f in verdict.failures), verdict.failures
    assert any(f.startswith("regression:") for f in verdict.failures)


def test_cli_gate_exit_codes(index_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {"RAG_INDEX_DIR": str(index_dir), "RAG_DENSE_WEIGHT": "-1"}
    cmd = [sys.executable, "-m", "rag", "eval", "--gate", "--out", str(tmp_path)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert "gate: FAILED" in out.stdout
    out = subprocess.run([*cmd, "--gold", str(tmp_path / "missing.jsonl")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "harness error" in out.stderr
