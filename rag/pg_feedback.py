"""Feedback in the shared PostgreSQL store (``RAG_STORE``): every replica's in one table.

A write returns once its transaction is committed, with ``synchronous_commit`` on for it
whatever the server's default, so an acknowledged record survives the replica (and a crash
of the server). Connections are :class:`rag.pg_store.Database`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from rag.config import StoreConfig
from rag.errors import StoreError
from rag.feedback import Feedback, FeedbackError
from rag.pg_store import database


class PgFeedbackStore:
    """Feedback in the shared database: a write returns once its transaction is committed
    (with ``synchronous_commit`` on for it, whatever the server's default)."""

    def __init__(self, cfg: StoreConfig) -> None:
        self.db = database(cfg)
        try:
            self.db.ensure_schema()
        except StoreError as exc:
            raise FeedbackError(f"feedback store cannot be opened: {exc}") from exc

    def describe(self) -> str:
        return self.db.where

    def add(self, fb: Feedback) -> Feedback:
        created = datetime.fromisoformat(fb.created_at) if fb.created_at else datetime.now(UTC)
        try:
            rows = self.db.write([
                ("SET LOCAL synchronous_commit = on", None),
                ("INSERT INTO rag_feedback (created_at, helpful, comment, question, answer, abstained, citations,"
                 " index_version) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s) RETURNING id",
                 (created, fb.helpful, fb.comment, fb.question, fb.answer, fb.abstained,
                  json.dumps(list(fb.citations), ensure_ascii=False), fb.index_version)),
            ])
        except StoreError as exc:
            raise FeedbackError(f"feedback could not be saved: {exc}") from exc
        return Feedback(**{**fb.__dict__, "created_at": _iso(created), "id": int(rows[0][0])})

    def all(self) -> Iterator[Feedback]:
        try:
            rows = self.db.read("SELECT id, created_at, helpful, comment, question, answer, abstained, citations,"
                                " index_version FROM rag_feedback ORDER BY id")
        except StoreError as exc:
            raise FeedbackError(f"feedback store cannot be read: {exc}") from exc
        for r in rows:
            yield Feedback(id=int(r[0]), created_at=_iso(r[1]), helpful=bool(r[2]), comment=r[3], question=r[4],
                           answer=r[5], abstained=bool(r[6]), citations=r[7], index_version=r[8])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
