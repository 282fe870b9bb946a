"""The gold threads stay true to the corpus and to their promised mix, and ``rag eval threads``
runs the dev threads through the real pipeline into a report that has every figure.

No quality threshold is asserted here: that is the gate's business, not a test's.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import pytest

import eval.cli as eval_cli
from eval.gold import normalise
from eval.thread_metrics import ALL, FIGURES
from eval.threads import KINDS, TOPIC_CHANGE, fact_problems, load_threads
from rag.corpus import load_corpus
from tests.conftest import CORPUS, ROOT, settings_for

GOLD = ROOT / "eval" / "gold"
SPLITS = ("dev", "test")
GENERAL_SLIDES = (2, 3, 12)


@pytest.fixture(scope="module")
def threads():  # type: ignore[no-untyped-def]
    return {name: load_threads(GOLD / f"threads-{name}.jsonl") for name in SPLITS}


def test_thread_sets_have_the_promised_size_and_mix(threads) -> None:  # type: ignore[no-untyped-def]
    for name, split in threads.items():
        assert len(split) >= 25, (name, len(split))
        assert all(t.id.startswith(f"thr-{name}-") for t in split), name
        kinds = Counter(turn.kind for t in split for turn in t.turns)
        assert kinds[TOPIC_CHANGE] >= 8, (name, kinds)
        assert kinds["follow-up"] >= 25, (name, kinds)
        changes = [turn for t in split for turn in t.turns if turn.kind == TOPIC_CHANGE]
        assert sum(len(turn.question.split()) <= 8 for turn in changes) >= 2, name  # some short ones too
        primaries = Counter(turn.primary_slide for t in split for turn in t.turns)
        for slide in (*range(4, 12), *GENERAL_SLIDES):  # Scenarios 1-8 and the general slides
            assert primaries[slide] >= 1, (name, slide)
        for t in split:  # the tag says what the thread holds
            assert ("topic-change" in t.tags) == any(turn.kind == TOPIC_CHANGE for turn in t.turns), t.id
    questions = {name: {normalise(turn.question) for t in split for turn in t.turns} for name, split in threads.items()}
    assert not questions["dev"] & questions["test"]


def test_every_fact_phrase_is_a_short_excerpt_of_its_slides(threads) -> None:  # type: ignore[no-untyped-def]
    deck = next(d for d in load_corpus(CORPUS) if d.source == "csp-for-sellers.md")
    slide_text = {p.slide: f"{p.title}\n{p.text}" for p in deck.parts if p.slide is not None}
    for split in threads.values():
        assert fact_problems(split, slide_text) == []


def _args(tmp_path: Path, **over: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "action": "threads", "gold": str(GOLD / "threads-dev.jsonl"), "out": str(tmp_path),
        "api": None, "api_key": None, "gate": False, "save_baseline": False,
    }  # fmt: skip
    return argparse.Namespace(**(values | over))


def test_rag_eval_threads_reports_every_figure_for_the_dev_threads(  # type: ignore[no-untyped-def]
    pipeline, index_dir, threads, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(eval_cli, "_pipeline", lambda settings: pipeline)
    assert eval_cli.run_eval_command(_args(tmp_path), settings_for(index_dir=index_dir)) == 0
    printed = capsys.readouterr().out
    for kind in (*KINDS, ALL):
        assert any(line.startswith(kind) for line in printed.splitlines()), kind

    [run_dir] = tmp_path.iterdir()
    data = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    dev = threads["dev"]
    assert len(data["turns"]) == sum(len(t.turns) for t in dev)
    assert data["summary"]["counts"]["threads"] == len(dev)
    assert data["provenance"]["gold_file"].endswith("threads-dev.jsonl")
    by_kind = data["summary"]["by_kind"]
    assert set(by_kind) == {*KINDS, ALL}
    with_history = {"follow-up", TOPIC_CHANGE, ALL}
    applies = {"dragged_rate": {TOPIC_CHANGE, ALL}, "dragged_rate_alone": {TOPIC_CHANGE, ALL},
               "context_right": with_history, "hit@1_after_hit": with_history}  # fmt: skip
    for kind, figures in by_kind.items():
        assert set(figures) == set(FIGURES), kind
        for key in FIGURES:
            value = figures[key]
            if kind in applies.get(key, {*KINDS, ALL}):
                assert value is not None and 0.0 <= value <= 1.0, (kind, key, value)
            else:
                assert value is None, (kind, key, value)
    for turn in data["turns"]:
        assert turn["in_thread"]["retrieved"] and turn["alone"]["retrieved"], turn["thread"]
        assert turn["context_turn"] is None or 0 <= turn["context_turn"] < turn["turn"] - 1
    assert "# Thread evaluation summary" in (run_dir / "summary.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("flag", ["api", "gate", "save_baseline"])
def test_rag_eval_threads_refuses_flags_it_cannot_honour(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "http://127.0.0.1:9" if flag == "api" else True
    code = eval_cli.run_eval_command(_args(tmp_path, **{flag: value}), settings_for())
    assert code == eval_cli.EXIT_HARNESS
    assert f"drop --{flag.replace('_', '-')}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
