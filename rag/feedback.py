"""Sellers' feedback on answers, stored durably: in SQLite (WAL mode) on one machine, or in
the shared PostgreSQL store when ``RAG_STORE`` is set (``rag.pg_feedback.PgFeedbackStore``);
:func:`open_feedback_store` picks the one the settings name.

Every record keeps what the seller saw (question, answer, citations, index version)
so a maintainer can turn "not helpful" answers into new gold questions
(``rag feedback export``). A write returns only after SQLite has committed it with
``synchronous=FULL``, so an acknowledged record survives a crash of the process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from rag.config import Settings
from rag.errors import RagError

FEEDBACK_DB = "feedback.sqlite3"
"""File name of the feedback database inside RAG_DATA_DIR (written by the API, read by ``rag feedback``)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,
    helpful       INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    comment       TEXT,
    question      TEXT NOT NULL,
    answer        TEXT NOT NULL,
    abstained     INTEGER NOT NULL CHECK (abstained IN (0, 1)),
    citations     TEXT NOT NULL,
    index_version TEXT NOT NULL
)
"""


class FeedbackError(RagError):
    """The feedback store cannot be opened or written."""


@dataclass(frozen=True)
class Feedback:
    """One seller's verdict on one answer."""

    helpful: bool
    question: str
    answer: str
    abstained: bool
    citations: Sequence[Mapping[str, Any]]
    index_version: str
    comment: str | None = None
    created_at: str = ""
    id: int | None = None


class FeedbackStore:
    """A SQLite file under the data folder; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(SCHEMA)
                db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"feedback store {path} cannot be opened ({exc}): check RAG_DATA_DIR") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def add(self, fb: Feedback) -> Feedback:
        created = fb.created_at or datetime.now(UTC).isoformat(timespec="milliseconds")
        row = (
            created,
            int(fb.helpful),
            fb.comment,
            fb.question,
            fb.answer,
            int(fb.abstained),
            json.dumps(list(fb.citations), ensure_ascii=False, sort_keys=True),
            fb.index_version,
        )
        try:
            with self._lock, closing(self._connect()) as db:
                cur = db.execute(
                    "INSERT INTO feedback (created_at, helpful, comment, question, answer, abstained,"
                    " citations, index_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                db.commit()
                new_id = cur.lastrowid
        except sqlite3.Error as exc:
            raise FeedbackError(f"feedback could not be saved to {self.path} ({exc})") from exc
        return Feedback(**{**fb.__dict__, "created_at": created, "id": new_id})

    def all(self) -> Iterator[Feedback]:
        try:
            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT id, created_at, helpful, comment, question, answer, abstained, citations,"
                    " index_version FROM feedback ORDER BY id"
                ).fetchall()
        except sqlite3.Error as exc:
            raise FeedbackError(f"feedback store {self.path} cannot be read ({exc})") from exc
        for r in rows:
            yield Feedback(
                id=r[0],
                created_at=r[1],
                helpful=bool(r[2]),
                comment=r[3],
                question=r[4],
                answer=r[5],
                abstained=bool(r[6]),
                citations=json.loads(r[7]),
                index_version=r[8],
            )

    def describe(self) -> str:
        return str(self.path)

    def export_jsonl(self, out: TextIO, *, only_unhelpful: bool = False) -> int:
        """One JSON object per record, shaped to be edited into a gold question."""
        return export_jsonl(self.all(), out, only_unhelpful=only_unhelpful)


class FeedbackRecords(Protocol):
    """A feedback store: :class:`FeedbackStore` (SQLite) or ``rag.pg_feedback.PgFeedbackStore``."""

    def describe(self) -> str: ...

    def add(self, fb: Feedback) -> Feedback:
        """Store ``fb``; returns once it is committed (with its id and time)."""
        ...

    def all(self) -> Iterator[Feedback]: ...


def open_feedback_store(settings: Settings) -> FeedbackRecords:
    """PostgreSQL when ``RAG_STORE`` is set, else ``RAG_DATA_DIR/feedback.sqlite3``.

    Raises:
        FeedbackError: the store cannot be opened.
    """
    if settings.store.url:
        from rag.pg_feedback import PgFeedbackStore

        return PgFeedbackStore(settings.store)
    return FeedbackStore(settings.data_dir / FEEDBACK_DB)


def export_jsonl(records: Iterable[Feedback], out: TextIO, *, only_unhelpful: bool = False) -> int:
    """One JSON object per record, shaped to be edited into a gold question."""
    n = 0
    for fb in records:
        if only_unhelpful and fb.helpful:
            continue
        record = {
            "feedback_id": fb.id,
            "created_at": fb.created_at,
            "helpful": fb.helpful,
            "comment": fb.comment,
            "question": fb.question,
            "answer": fb.answer,
            "abstained": fb.abstained,
            "cited_slides": sorted({int(c["slide"]) for c in fb.citations if c.get("slide") is not None}),
            "citations": list(fb.citations),
            "index_version": fb.index_version,
        }
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n
