"""Thread scoring, the run loop and its reports, on plain data and a scripted fake answerer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from eval.metrics import Observation
from eval.runner import HarnessError
from eval.thread_metrics import context_right, dragged, summarise
from eval.thread_report import format_threads_table, write_thread_reports
from eval.thread_runner import Reply, run_thread, run_threads
from eval.threads import GoldThread, ThreadTurn
from rag.datatypes import Turn

DECK = "csp-for-sellers.md"


def slide(n: int) -> str:
    return f"{DECK}#{n}"


@pytest.mark.parametrize(
    ("retrieved", "relevant", "expected"),
    [
        ([slide(11), slide(8)], [slide(8)], True),  # the old scenario on top
        ([slide(11), slide(11), slide(8)], [slide(8)], True),
        ([slide(8), slide(11)], [slide(8)], False),  # the new scenario on top
        ([slide(11)], [slide(8), slide(11)], False),  # the old slide is relevant here too
        ([slide(5)], [slide(8)], False),  # a miss, but not a drag
        ([], [slide(8)], False),
    ],
)
def test_dragged(retrieved: list[str], relevant: list[str], expected: bool) -> None:
    assert dragged(retrieved, slide(11), relevant) is expected


def test_context_right_depends_on_the_kind() -> None:
    assert context_right("follow-up", 0) is True
    assert context_right("follow-up", None) is False
    assert context_right("topic-change", None) is True
    assert context_right("topic-change", 1) is False
    assert context_right("first", None) is None


FACT = "a fact phrase"


def t(kind: str, question: str, slides: tuple[int, ...], standalone: str | None = None) -> ThreadTurn:
    return ThreadTurn(question, standalone or question, kind, slides, ((FACT,),))


THREAD_A = GoldThread(
    "thr-a",
    (
        t("first", "leave CSP for EA?", (11,)),
        t("follow-up", "tell the partner?", (11,), "leaving CSP for EA, tell the partner?"),
        t("topic-change", "EA renewal soon?", (8,)),
    ),
    (),
)
THREAD_B = GoldThread("thr-b", (t("first", "CSP pitch to EA customer", (4,)), t("topic-change", "premier?", (9,))), ())


def reply(top: int, *rest: int, context: int | None = None, says_fact: bool = True) -> Reply:
    obs = Observation(
        retrieved=tuple(slide(n) for n in (top, *rest)),
        answer=f"guidance: {FACT}." if says_fact else "other guidance.",
        abstained=False,
        cited=(slide(top),),
        quotes=("q",),
        confidence=0.9,
        latency_ms=1.0,
    )
    return Reply(obs, (f"chunk-{top}",), context)


SCRIPT = {
    ("leave CSP for EA?", 0): reply(11),
    ("tell the partner?", 1): reply(11, context=0),
    ("leaving CSP for EA, tell the partner?", 0): reply(5, says_fact=False),
    ("EA renewal soon?", 2): reply(11, 8, context=1, says_fact=False),  # dragged, and read as a follow-up
    ("EA renewal soon?", 0): reply(8),
    ("CSP pitch to EA customer", 0): reply(4),
    ("premier?", 1): reply(9),
    ("premier?", 0): reply(4, 9, says_fact=False),  # alone it lands on the old scenario
}


class Scripted:
    """Answers from SCRIPT, keyed by question and history length, and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Turn, ...]]] = []

    def __call__(self, question: str, history: Sequence[Turn]) -> Reply:
        self.calls.append((question, tuple(history)))
        return SCRIPT[(question, len(history))]


def test_run_thread_sends_the_thread_history_and_asks_the_standalone_text_alone() -> None:
    answerer = Scripted()
    results = run_thread(THREAD_A, answerer)
    first = Turn("leave CSP for EA?", ("chunk-11",))
    second = Turn("tell the partner?", ("chunk-11",))
    assert answerer.calls == [
        ("leave CSP for EA?", ()),
        ("leave CSP for EA?", ()),
        ("tell the partner?", (first,)),
        ("leaving CSP for EA, tell the partner?", ()),
        ("EA renewal soon?", (first, second)),
        ("EA renewal soon?", ()),
    ]
    assert [r.index for r in results] == [0, 1, 2]
    assert [r.context_turn for r in results] == [None, 0, 1]
    assert [r.previous_primary for r in results] == [None, slide(11), slide(11)]
    assert results[1].in_thread.metrics["hit@1"] == 1.0 and results[1].alone.metrics["hit@1"] == 0.0
    assert results[1].alone.item.question == "leaving CSP for EA, tell the partner?"
    assert results[2].dragged is True and results[2].dragged_alone is False
    assert results[2].context_right is False and results[1].context_right is True
    assert results[0].dragged is None and results[0].context_right is None


def test_run_thread_refuses_a_context_turn_outside_the_history() -> None:
    def answerer(question: str, history: Sequence[Turn]) -> Reply:
        return reply(11, context=len(history))

    with pytest.raises(HarnessError, match=r"thr-a turn 1: .* earlier turn 0, but the history has 0 turn"):
        run_thread(THREAD_A, answerer)


def test_summary_figures_per_kind_by_hand() -> None:
    results = run_threads([THREAD_A, THREAD_B], Scripted())
    summary = summarise(results)
    assert summary.counts == {"threads": 2, "turns": 5, "threads_all_hit@1": 1}
    assert summary.turns_by_kind == {"first": 2, "follow-up": 1, "topic-change": 2, "all": 5}
    first, follow, change, every = (summary.by_kind[k] for k in ("first", "follow-up", "topic-change", "all"))
    assert first == {
        "hit@1": 1.0, "hit@1_alone": 1.0, "hit@1_after_hit": None, "fact_coverage": 1.0, "fact_coverage_alone": 1.0,
        "citation_precision": 1.0, "citation_precision_alone": 1.0,
        "dragged_rate": None, "dragged_rate_alone": None, "context_right": None,
    }  # fmt: skip
    assert follow["hit@1"] == 1.0 and follow["hit@1_alone"] == 0.0 and follow["context_right"] == 1.0
    assert follow["hit@1_after_hit"] == 1.0
    assert follow["fact_coverage_alone"] == 0.0 and follow["dragged_rate"] is None
    # A's topic change is dragged (in thread) and B's lands on the old slide alone.
    assert change == {
        "hit@1": 0.5, "hit@1_alone": 0.5, "hit@1_after_hit": 0.5, "fact_coverage": 0.5, "fact_coverage_alone": 0.5,
        "citation_precision": 0.5, "citation_precision_alone": 0.5,
        "dragged_rate": 0.5, "dragged_rate_alone": 0.5, "context_right": 0.5,
    }  # fmt: skip
    assert every["hit@1"] == 0.8 and every["hit@1_alone"] == 0.6 and every["hit@1_after_hit"] == 0.6667
    assert every["dragged_rate"] == 0.5 and every["context_right"] == 0.6667  # 2 of 3 turns with history
    assert list(summary.by_kind) == ["first", "follow-up", "topic-change", "all"]
    assert summarise(list(reversed(results))) == summary


def test_summary_leaves_out_kinds_without_turns() -> None:
    summary = summarise(run_thread(THREAD_B, Scripted()))
    assert list(summary.by_kind) == ["first", "topic-change", "all"]


def test_table_and_reports_hold_every_figure(tmp_path: Path) -> None:
    results = run_threads([THREAD_A, THREAD_B], Scripted())
    summary = summarise(results)
    table = format_threads_table(summary)
    assert table.splitlines()[0] == (
        "2 threads, 5 turns (2 first, 1 follow-up, 2 topic-change); every turn hit@1 in 1/2 threads."
    )
    header = table.splitlines()[2].split("  ")
    assert [cell.strip() for cell in header if cell.strip()][:4] == ["kind", "turns", "hit@1", "hit@1 alone"]
    assert "context right" in table and "dragged alone" in table
    change_row = next(line for line in table.splitlines() if line.startswith("topic-change")).split()
    assert change_row == ["topic-change", "2", *["0.5000"] * 10]
    assert next(line for line in table.splitlines() if line.startswith("first")).split()[-1] == "n/a"

    paths = write_thread_reports(tmp_path, results=results, summary=summary, provenance={"git_commit": "x"})
    data = json.loads(paths["results.json"].read_text(encoding="utf-8"))
    assert data["summary"] == json.loads(json.dumps(summary.to_dict()))
    assert [(d["thread"], d["turn"], d["kind"]) for d in data["turns"]][:3] == [
        ("thr-a", 1, "first"), ("thr-a", 2, "follow-up"), ("thr-a", 3, "topic-change"),
    ]  # fmt: skip
    dragged_turn = data["turns"][2]
    assert dragged_turn["dragged"] is True and dragged_turn["context_turn"] == 1
    assert dragged_turn["in_thread"]["retrieved"][0] == slide(11)
    assert dragged_turn["alone"]["question"] == "EA renewal soon?"
    markdown = paths["summary.md"].read_text(encoding="utf-8")
    assert "## Turns missed in thread (1)" in markdown
    assert "dragged to the previous turn's csp-for-sellers.md#11" in markdown
    assert "context_turn 1 on a topic-change" in markdown
