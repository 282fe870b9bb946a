"""The PostgreSQL store's dense side at scale: pgvector HNSW on the synthetic vectors of :mod:`bench.scale`.

For one size: the vectors go into a table by the store's own binary COPY
(:func:`rag.pg_store.copy_dense`), the HNSW index is built by the store's own
:func:`rag.pg_store.create_hnsw` (``vector_ip_ops``, the build settings of
:class:`rag.config.StoreConfig` unless overridden), and searched through
:class:`rag.pg_store.PgDenseIndex`, the class the service answers with: one query at a time,
k = 10, over a Unix socket, once per ``hnsw.ef_search`` value asked for. Recall@10 is against
the same exact brute force as the FAISS points. Memory is the table's and the index's size on
disk (what the server caches in shared buffers and the OS page cache).

Without ``--store-url`` a throw-away PostgreSQL (the ``pgserver`` package: PostgreSQL 16 with
pgvector) is started in a temporary folder and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import summarise
from bench.synthetic import DIM, recall_at_k, timed_searches
from rag.config import StoreConfig
from rag.pg_search import PgDenseIndex
from rag.pg_store import copy_dense, create_dense_table, create_hnsw, database

SERVER_SETTINGS = {"shared_buffers": "4GB", "max_parallel_maintenance_workers": "2", "max_wal_size": "8GB"}
"""What the throw-away server is restarted with: shared buffers that hold a million-vector
HNSW graph (about 2 GB) and its table, both cores for the build, and checkpoints spaced out
while the table loads."""


@contextlib.contextmanager
def throwaway_server(settings: dict[str, str] | None = None) -> Iterator[str]:
    """A PostgreSQL with pgvector in a temporary folder, for the length of the block; its URL."""
    runtime = Path(tempfile.mkdtemp(prefix="rag-bench-run-"))
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))  # pgserver keeps its lock file there
    import pgserver  # the dev extra; a real deployment has its own server
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    folder = Path(tempfile.mkdtemp(prefix="rag-bench-pg-"))
    server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    try:
        if settings:
            for name, value in settings.items():
                server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        yield server.get_uri()
    finally:
        server.cleanup()  # stops the server and deletes its folder


def pg_point(
    url: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    *,
    k: int,
    ef_search: Sequence[int],
    cfg: StoreConfig | None = None,
) -> dict[str, Any]:
    """Load, build, search and score one size in the database at ``url``; the table is dropped after."""
    n = vectors.shape[0]
    base = replace(cfg or StoreConfig(), url=url)
    db = database(base)
    table = f"rag_bench_{n}"
    with db.connection() as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        started = time.perf_counter()
        with conn.transaction():
            create_dense_table(conn, table, vectors.shape[1])
            copy_dense(conn, table, vectors)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        create_hnsw(conn, table, m=base.hnsw_m, ef_construction=base.hnsw_ef_construction, memory=base.build_memory)
        build_s = time.perf_counter() - started
        sizes = conn.execute(
            "SELECT pg_relation_size(%s), pg_relation_size(%s), current_setting('shared_buffers'), "
            "current_setting('max_parallel_maintenance_workers')", (table, f"{table}_hnsw")).fetchone()
    searches = []
    try:
        for ef in ef_search:
            dense = PgDenseIndex(database(replace(base, ef_search=ef)), table, vectors.shape[1], n)
            found, latencies = timed_searches(dense.search, queries, k)
            searches.append({"ef_search": ef, "search_ms": summarise(latencies),
                             "recall_at_10": round(recall_at_k(found, truth, k), 4)})
    finally:
        with db.connection() as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    default = next((s for s in searches if s["ef_search"] == base.ef_search), searches[0])
    return {
        "store": "postgres",
        "n": n,
        "dim": DIM,
        "index": f"pgvector-hnsw-ip (m={base.hnsw_m}, ef_construction={base.hnsw_ef_construction})",
        "load_s": round(load_s, 3),
        "build_s": round(build_s, 3),
        "search_ms": default["search_ms"],
        "recall_at_10": default["recall_at_10"],
        "ef_search": default["ef_search"],
        "by_ef_search": searches,
        "table_mib": round(sizes[0] / 2**20, 1),
        "index_mib": round(sizes[1] / 2**20, 1),
        "build_memory": base.build_memory,
        "shared_buffers": sizes[2],
        "parallel_maintenance_workers": int(sizes[3]),
    }
