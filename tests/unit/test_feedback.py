from __future__ import annotations

import io
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.feedback import Feedback, FeedbackError, FeedbackStore


def _fb(i: int, helpful: bool = True) -> Feedback:
    return Feedback(
        helpful=helpful,
        question=f"question {i}",
        answer=f"answer {i} [1]",
        abstained=False,
        citations=[{"n": 1, "slide": 9, "quote": "q"}],
        index_version="v1",
        comment=None if helpful else "wrong slide",
    )


def test_records_survive_reopening_and_export(tmp_path: Path) -> None:
    path = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore(path)
    saved = store.add(_fb(1))
    assert saved.id == 1 and saved.created_at
    store.add(_fb(2, helpful=False))
    again = FeedbackStore(path)
    assert [f.question for f in again.all()] == ["question 1", "question 2"]
    out = io.StringIO()
    assert again.export_jsonl(out, only_unhelpful=True) == 1
    record = json.loads(out.getvalue())
    assert record["question"] == "question 2" and record["cited_slides"] == [9]
    assert record["comment"] == "wrong slide"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: store.add(_fb(i)).id, range(200)))
    assert len(set(ids)) == 200
    assert len(list(FeedbackStore(tmp_path / "f.sqlite3").all())) == 200


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeedbackError, match="cannot be opened"):
        FeedbackStore(blocker / "feedback.sqlite3")
