"""A real PostgreSQL with pgvector for the tests: the ``pgserver`` package (PostgreSQL 16 and
pgvector in a wheel), started once per session in a temporary folder, one fresh database per
test or module. No mock: every query the store sends is run by the real server.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_numbers = itertools.count(1)


class PgServer:
    """The session's server: ``url(db)`` for a database on it, ``fresh()`` for a new empty one."""

    def __init__(self, folder: Path) -> None:
        runtime = Path(tempfile.mkdtemp(prefix="rag-pg-run-"))
        runtime.chmod(0o700)  # pgserver keeps its lock file here; it warns about a looser folder
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        import pgserver

        self._server: Any = pgserver.get_server(folder, cleanup_mode="delete")
        self.admin_url = self._server.get_uri()

    def url(self, database: str) -> str:
        return str(self._server.get_uri(database))

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A new empty database for the block; dropped afterwards (pooled connections closed first)."""
        from rag.pg_store import close_databases

        name = f"rag_test_{os.getpid()}_{next(_numbers)}"
        self.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            close_databases()
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self._server.cleanup()
