"""The gold thread format: its strict loader and the fact-phrase check, on plain data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.gold import GoldError
from eval.threads import GoldThread, ThreadTurn, fact_problems, load_threads, scenario_of


def turn(kind: str = "first", question: str = "customer wants to leave CSP for EA", **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "question": question,
        "standalone": question,
        "kind": kind,
        "slides": [11],
        "facts": [["moving from breadth should be a last resort"]],
    }
    return record | over


def follow_up(**over: Any) -> dict[str, Any]:
    return turn(
        "follow-up", "should I tell the partner?", standalone="customer leaves CSP for EA - should I tell the partner?"
    ) | over


def thread(*turns: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"id": "thr-x-01", "turns": list(turns) or [turn(), follow_up()], "tags": ["ellipsis"]} | over


def write(tmp_path: Path, *records: Any) -> Path:
    path = tmp_path / "threads.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_a_valid_thread_loads_into_frozen_records(tmp_path: Path) -> None:
    change = turn("topic-change", "renewal coming up, what do I do?", slides=[8, 2], facts=[["is considered a win"]])
    path = write(tmp_path, thread(turn(), follow_up(), change), "", thread(id="thr-x-02"))
    first, second = load_threads(path)
    assert first.id == "thr-x-01" and second.id == "thr-x-02"
    assert [t.kind for t in first.turns] == ["first", "follow-up", "topic-change"]
    assert first.turns[2] == ThreadTurn(
        "renewal coming up, what do I do?", "renewal coming up, what do I do?", "topic-change", (8, 2),
        (("is considered a win",),),
    )  # fmt: skip
    assert first.turns[2].primary_slide == 8
    assert first.tags == ("ellipsis",) and first.source == "csp-for-sellers.md"


def test_gold_item_of_a_turn_uses_the_question_or_the_standalone_text() -> None:
    t = ThreadTurn("and the partner?", "what does the partner do at an EA renewal?", "follow-up", (8,), (("x y z",),))
    first = ThreadTurn("EA renewal soon", "EA renewal soon", "first", (8,), (("x y z",),))
    gold = GoldThread("thr-x-01", (first, t), ("short",))
    in_thread, alone = gold.gold_item(1), gold.gold_item(1, standalone=True)
    assert in_thread.question == "and the partner?"
    assert alone.question == "what does the partner do at an EA renewal?"
    assert in_thread.id == "thr-x-01/2" and in_thread.scenario == "s5"
    assert in_thread.slides == (8,) and not in_thread.abstain and in_thread.tags == ("follow-up", "short")


@pytest.mark.parametrize(
    ("slide", "scenario"), [(2, "general"), (3, "general"), (4, "s1"), (11, "s8"), (12, "general")]
)
def test_scenario_of_a_slide(slide: int, scenario: str) -> None:
    assert scenario_of(slide) == scenario


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("[1, 2]", "a record must be a JSON object"),
        ("{not json", "not valid JSON"),
        (thread() | {"extra": 1}, "unknown key(s) extra (allowed: id, turns, tags, source)"),
        ({"id": "x", "tags": []}, "missing key(s) turns"),
        (thread(turn()), "2 to 4 turns, got 1 turns"),
        (thread(turn(), follow_up(), follow_up(), follow_up(), follow_up()), "got 5 turns"),
        (thread(turns="no"), "turns must be a list"),
        (thread(turn(), follow_up() | {"answer": "x"}), "turn 2: unknown key(s) answer"),
        (thread(turn(), {"question": "q", "kind": "follow-up"}), "turn 2: missing key(s) standalone, slides, facts"),
        (thread(turn(), follow_up(kind="followup")), "kind 'followup' is not one of first, follow-up, topic-change"),
        (thread(follow_up(), turn()), "turn 1: the first turn of a thread must have kind 'first'"),
        (thread(turn(), turn()), "turn 2: only the first turn has kind 'first'"),
        (thread(turn(standalone="something else"), follow_up()), "a first turn is self-contained"),
        (thread(turn(), follow_up(standalone="Should I tell the  partner?")), "must spell out what the thread"),
        (thread(turn(), turn("topic-change", "renewal?", standalone="EA renewal?", slides=[8])), "self-contained"),
        (thread(turn(), turn("topic-change", "what about the partner?")), "make it a follow-up"),
        (thread(turn(), follow_up(slides=[])), "slides must name at least one slide"),
        (thread(turn(), follow_up(slides=[11, 11])), "lists a slide twice"),
        (thread(turn(), follow_up(slides=[True])), "positive whole numbers"),
        (thread(turn(), follow_up(facts=[])), "1 to 2 key facts, got 0"),
        (thread(turn(), follow_up(facts=[["a b c"], ["d e f"], ["g h i"]])), "1 to 2 key facts, got 3"),
        (thread(turn(), follow_up(facts=[[]])), "fact 1 must be a non-empty list"),
        (thread(turn(), follow_up(question="  ")), "question must be a non-empty string"),
        (thread(tags="ellipsis"), "tags must be a list of strings"),
        (thread(id=7), "id must be a non-empty string"),
    ],
)
def test_loader_refuses_doubtful_records_with_line_and_reason(tmp_path: Path, record: Any, message: str) -> None:
    path = write(tmp_path, thread(id="thr-ok"), record)
    with pytest.raises(GoldError) as caught:
        load_threads(path)
    assert f"{path}:2:" in str(caught.value)
    assert message in str(caught.value)


def test_loader_refuses_duplicate_ids_empty_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GoldError, match=r":2: duplicate id 'thr-x-01' \(first used on line 1\)"):
        load_threads(write(tmp_path, thread(), thread()))
    with pytest.raises(GoldError, match="no thread records"):
        load_threads(write(tmp_path, ""))
    with pytest.raises(GoldError, match="cannot read thread file"):
        load_threads(tmp_path / "missing.jsonl")


def test_fact_problems_finds_phrases_missing_from_their_slides_or_of_the_wrong_length() -> None:
    slides = {
        8: "Any renewal, whether through EA or through a CSP partner, is considered a win.",
        9: "Do not sell – ever",
    }
    # Case, curly quotes and dashes do not matter; every phrase of a group must be there.
    good = ThreadTurn("q", "q", "first", (9, 8), (("IS considered a win", "do not sell - ever"),))
    bad = ThreadTurn(
        "and?", "q2", "follow-up", (9,), (("is considered a win",), ("do not",), ("a " * 11,)),
    )  # fmt: skip
    lost = ThreadTurn("x", "x", "topic-change", (13,), (("is considered a win",),))
    problems = fact_problems([GoldThread("t", (good, bad, lost), ())], slides)
    assert problems == [
        "t turn 2: 'is considered a win' is not in slide(s) [9]",
        "t turn 2: 'do not' has 2 words, not 3 to 10",
        "t turn 2: " + repr("a " * 11) + " has 11 words, not 3 to 10",
        "t turn 2: " + repr("a " * 11) + " is not in slide(s) [9]",
        "t turn 3: slide(s) [13] are not in the deck",
        "t turn 3: 'is considered a win' is not in slide(s) [13]",
    ]
    assert fact_problems([GoldThread("t", (good,), ())], slides) == []
