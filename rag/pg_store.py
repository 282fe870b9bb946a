"""PostgreSQL with pgvector as the shared store of several replicas: the only module that imports psycopg.

Connections and schema, versions (build, switch, prune, load) here; search is
:mod:`rag.pg_search`'s, feedback :mod:`rag.pg_feedback`'s, both through :class:`Database`.

``RAG_STORE=postgresql://…`` puts everything a replica would keep on its own disk into one
database (created on first use, under an advisory lock so that replicas starting together
do not race)::

    rag_versions        one row per build: id, index_version, state (building / ready), manifest
    rag_current         one row: the version every replica serves
    rag_artifacts       a version's small artifacts (sentence and heading vectors, sources,
                        acronyms, synonyms, questions), in the index folder's own formats, each
                        with its sha256 (checked on load, as the folder's files are)
    rag_v<id>_chunks    the version's chunks: (row, chunk jsonb)
    rag_v<id>_dense     (row, embedding vector(d)) with an HNSW index, ``vector_ip_ops``: the inner
                        product of unit vectors is their cosine, what FAISS computes in the folder
    rag_v<id>_terms     (term, row, weight): each term's BM25 weight in each chunk, exactly the
                        numbers bm25s computed at build time (:meth:`LexicalIndex.postings`), so
                        a question's BM25 score is one indexed ``SUM`` and both stores rank alike
    rag_feedback        sellers' feedback, acknowledged once committed

A build writes a complete new version (its tables, its HNSW index, its artifacts) while the
current one keeps serving, then switches ``rag_current`` to it in one transaction; a build
that fails leaves no trace and the last good version current. Builds take a session
advisory lock, so one replica builds at a time and a replica that waited for another's build
finds it and uses it. Superseded versions are dropped once more than ``keep_builds`` are
ready and they have been out of use for ``StoreConfig.retire_after_s`` (replicas still
finishing a request on one can). Replicas poll the pointer (:meth:`PgIndexStore.current_version`, one
indexed row) and load a new version whole before serving it, so a request reads one version.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rag.batching import LRU
from rag.config import StoreConfig
from rag.datatypes import Manifest, chunk_from_dict, to_dict
from rag.errors import DependencyError, IndexCorruptError, IndexNotFoundError, StoreError
from rag.index import Index, artifact_bytes, check_counts, index_of, read_artifacts
from rag.lexical import LexicalIndex
from rag.pg_search import INDEX_TYPE, VECTOR_CACHE, PgDenseIndex, PgLexicalIndex
from rag.synonyms import Synonyms

log = logging.getLogger(__name__)

MIN_PGVECTOR = (0, 5, 0)
"""HNSW arrived in pgvector 0.5.0."""
LOCK_SPACE = 7261
LOCK_SCHEMA, LOCK_BUILD = 1, 2
CONNECT_TIMEOUT_S = 5
POOL_WAIT_S = 30.0

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS rag_versions (
    id            bigserial PRIMARY KEY,
    index_version text NOT NULL,
    state         text NOT NULL CHECK (state IN ('building', 'ready')),
    dimension     integer NOT NULL,
    manifest      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    superseded_at timestamptz
);
CREATE TABLE IF NOT EXISTS rag_current (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    version_id  bigint NOT NULL REFERENCES rag_versions (id),
    switched_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS rag_artifacts (
    version_id bigint NOT NULL REFERENCES rag_versions (id) ON DELETE CASCADE,
    name       text NOT NULL,
    sha256     text NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (version_id, name)
);
CREATE TABLE IF NOT EXISTS rag_feedback (
    id            bigserial PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    helpful       boolean NOT NULL,
    comment       text,
    question      text NOT NULL,
    answer        text NOT NULL,
    abstained     boolean NOT NULL,
    citations     jsonb NOT NULL,
    index_version text NOT NULL
);
"""


def _psycopg():  # type: ignore[no-untyped-def]
    try:
        import psycopg
    except ImportError as exc:
        raise DependencyError(
            "RAG_STORE needs psycopg: pip install 'psycopg[binary]' (or the project's `postgres` extra)"
        ) from exc
    return psycopg


def _why(exc: BaseException) -> str:
    """The first line of a driver error: enough to act on, no multi-line context dumps."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ------------------------------------------------------------------------ connections


class Database:
    """A small pool of autocommit connections to one database, opened lazily.

    Reads are retried once on a fresh connection when the pooled one turned out to be dead
    (the server restarted, a proxy dropped it); every driver error leaves as :class:`StoreError`.
    """

    def __init__(self, cfg: StoreConfig) -> None:
        self.cfg = cfg
        self.url = cfg.url
        self.where = cfg.shown_url
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(cfg.pool_size, 1))
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def connect(self) -> Any:
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                   application_name="csp-seller-rag")
            conn.execute(f"SET hnsw.ef_search = {int(self.cfg.ef_search)}")
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL store {self.where} is unreachable ({_why(exc)}): check RAG_STORE and the server"
            ) from exc
        return conn

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled connection, schema in place; returned to the pool unless it broke."""
        self.ensure_schema()
        if not self._slots.acquire(timeout=POOL_WAIT_S):
            raise StoreError(f"no free connection to {self.where} within {POOL_WAIT_S:.0f} s (RAG_STORE_POOL_SIZE)")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self.connect()
            yield conn
        finally:
            if conn is not None:
                healthy = not conn.closed and conn.info.transaction_status == 0  # IDLE
                if healthy:
                    self._idle.put(conn)
                else:
                    conn.close()
            self._slots.release()

    def read(self, sql: str, params: Any = None, *, binary: bool = True) -> list[tuple[Any, ...]]:
        """All rows of one query; retried once on a new connection if the first one was dead."""
        psycopg = _psycopg()
        for attempt in (1, 2):
            try:
                with self.connection() as conn, conn.cursor(binary=binary) as cur:
                    cur.execute(sql, params)
                    return list(cur.fetchall())
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise StoreError(f"PostgreSQL store {self.where} failed a query ({_why(exc)})") from exc
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL store {self.where} refused a query ({_why(exc)})") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def write(self, statements: Sequence[tuple[str, Any]]) -> list[tuple[Any, ...]]:
        """Run ``statements`` in one transaction, committed before this returns; the rows of the last."""
        psycopg = _psycopg()
        try:
            with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {self.where} failed a write ({_why(exc)})") from exc

    def ensure_schema(self) -> None:
        """pgvector and the store's tables, once per process (idempotent; replicas serialise on a lock)."""
        if self._schema_ready:
            return
        psycopg = _psycopg()
        with self._schema_lock:
            if self._schema_ready:
                return
            conn = self.connect()
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, LOCK_SCHEMA))
                    try:
                        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    except psycopg.Error as exc:
                        raise StoreError(
                            f"PostgreSQL store {self.where} has no pgvector ({_why(exc)}): install pgvector "
                            f"{'.'.join(map(str, MIN_PGVECTOR))} or later on the server (a managed service: "
                            "enable the `vector` extension), then `CREATE EXTENSION vector` as its owner"
                        ) from exc
                    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
                    if row is None or _version(row[0]) < MIN_PGVECTOR:
                        found = row[0] if row else "none"
                        raise StoreError(f"PostgreSQL store {self.where} has pgvector {found}; HNSW needs 0.5.0 "
                                         "or later: ALTER EXTENSION vector UPDATE")
                    conn.execute(SCHEMA)
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL store {self.where}: the schema cannot be created ({_why(exc)})") from exc
            finally:
                conn.close()
            self._schema_ready = True

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


_DATABASES: dict[StoreConfig, Database] = {}
_DATABASES_LOCK = threading.Lock()


def database(cfg: StoreConfig) -> Database:
    """The process's pool for ``cfg`` (one per URL and search settings, shared by every
    version loaded, so a switch does not open new connections)."""
    with _DATABASES_LOCK:
        db = _DATABASES.get(cfg)
        if db is None:
            db = _DATABASES[cfg] = Database(cfg)
        return db


def close_databases() -> None:
    """Close every pooled connection of this process (tests, shutdown)."""
    with _DATABASES_LOCK:
        for db in _DATABASES.values():
            db.close()
        _DATABASES.clear()


# ------------------------------------------------------------------------ vectors on the wire


def copy_dense(conn: Any, table: str, vectors: np.ndarray, block_rows: int = 50_000) -> None:
    """``vectors`` into ``table (row int4, embedding vector)`` by binary COPY (rows 0..n-1)."""
    psycopg = _psycopg()
    n, d = vectors.shape
    tuple_type = np.dtype([("fields", ">i2"), ("row_len", ">i4"), ("row", ">i4"), ("vec_len", ">i4"),
                           ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (d,))])
    statement = psycopg.sql.SQL("COPY {} (row, embedding) FROM STDIN (FORMAT BINARY)").format(
        psycopg.sql.Identifier(table))
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for lo in range(0, n, block_rows):
            block = vectors[lo : lo + block_rows]
            rows = np.empty(len(block), tuple_type)
            rows["fields"], rows["row_len"], rows["vec_len"] = 2, 4, 4 + 4 * d
            rows["row"] = np.arange(lo, lo + len(block))
            rows["dim"], rows["unused"] = d, 0
            rows["v"] = block
            copy.write(rows.tobytes())
        copy.write(struct.pack(">h", -1))


def create_dense_table(conn: Any, table: str, dimension: int) -> None:
    sql = _psycopg().sql
    conn.execute(sql.SQL("CREATE TABLE {} (row integer PRIMARY KEY, embedding vector({}) NOT NULL)").format(
        sql.Identifier(table), sql.Literal(int(dimension))))


def create_hnsw(conn: Any, table: str, *, m: int, ef_construction: int, memory: str) -> None:
    """The HNSW index of ``table``'s embeddings (inner product), built with ``memory`` of
    ``maintenance_work_mem`` and the server's parallel maintenance workers."""
    sql = _psycopg().sql
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(memory)))
        conn.execute(sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding vector_ip_ops) "
                             "WITH (m = {}, ef_construction = {})").format(
            sql.Identifier(f"{table}_hnsw"), sql.Identifier(table), sql.Literal(int(m)),
            sql.Literal(int(ef_construction))))
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


# ------------------------------------------------------------------------ versions


@dataclass(frozen=True)
class VersionTables:
    """The per-version tables of version ``id``."""

    id: int

    @property
    def chunks(self) -> str:
        return f"rag_v{self.id}_chunks"

    @property
    def dense(self) -> str:
        return f"rag_v{self.id}_dense"

    @property
    def terms(self) -> str:
        return f"rag_v{self.id}_terms"

    def all(self) -> tuple[str, str, str]:
        return (self.chunks, self.dense, self.terms)


class PgIndexStore:
    """Index versions in PostgreSQL: :func:`rag.store.open_store` gives it for ``RAG_STORE``."""

    shared = True

    def __init__(self, cfg: StoreConfig, keep_builds: int = 2) -> None:
        self.cfg = cfg
        self.db = database(cfg)
        self.keep_builds = max(keep_builds, 1)

    def describe(self) -> str:
        return self.db.where

    def current_version(self) -> int | None:
        rows = self.db.read("SELECT version_id FROM rag_current")
        return int(rows[0][0]) if rows else None

    @contextmanager
    def build_lock(self) -> Iterator[None]:
        """Held while a build runs: one build at a time over every replica (released if the
        builder dies, with its session)."""
        self.db.ensure_schema()
        conn = self.db.connect()
        try:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, LOCK_BUILD))
            yield
        finally:
            conn.close()  # ends the session, which releases the lock

    # -------------------------------------------------------------------- load

    def load(self) -> Index:
        """The current version, every artifact checked against its sha256."""
        rows = self.db.read("SELECT v.id, v.manifest FROM rag_current c JOIN rag_versions v ON v.id = c.version_id")
        if not rows:
            raise IndexNotFoundError(f"no index in {self.describe()}: run `rag index`")
        return self.load_version(int(rows[0][0]), rows[0][1])

    def load_version(self, version_id: int, manifest_data: dict[str, Any]) -> Index:
        tables = VersionTables(version_id)
        where = f"index version {version_id} in {self.describe()}"
        try:
            manifest = Manifest(**manifest_data)
        except TypeError as exc:
            raise IndexCorruptError(f"{where} has an unreadable manifest ({exc}): run `rag index`") from exc
        blobs = {name: (digest, bytes(data)) for name, digest, data in
                 self.db.read("SELECT name, sha256, data FROM rag_artifacts WHERE version_id = %s", (version_id,))}
        for name, digest in manifest.artifacts.items():
            if name not in blobs or hashlib.sha256(blobs[name][1]).hexdigest() != digest:
                raise IndexCorruptError(f"{where}: artifact {name} is missing or altered: run `rag index`")
        chunks = tuple(chunk_from_dict(r[0]) for r in
                       self.db.read(f'SELECT chunk FROM "{tables.chunks}" ORDER BY row'))
        n_dense = int(self.db.read(f'SELECT count(*) FROM "{tables.dense}"')[0][0])
        artifacts = read_artifacts(lambda name: blobs[name][1], manifest, where)
        if len(chunks) != manifest.n_chunks:
            raise IndexCorruptError(f"{where} is inconsistent (row counts differ): run `rag index`")
        check_counts(len(chunks), n_dense, artifacts, where)
        dense, lexical = self._searchers(tables, manifest.dimension, len(chunks), artifacts.synonyms)
        return index_of(manifest, chunks, dense, lexical, artifacts, store_version=version_id)

    def _searchers(
        self, tables: VersionTables, dimension: int, n_chunks: int, synonyms: Synonyms
    ) -> tuple[PgDenseIndex, PgLexicalIndex]:
        """A version's dense and lexical sides, sharing one cache of chunk vectors."""
        cache: LRU[int, np.ndarray] = LRU(VECTOR_CACHE)
        return (
            PgDenseIndex(self.db, tables.dense, dimension, n_chunks, cache),
            PgLexicalIndex(self.db, tables.terms, tables.dense, synonyms, cache),
        )

    # -------------------------------------------------------------------- save

    def save(self, index: Index) -> Index:
        """Write ``index`` (built in memory) as a new version and make it current in one
        transaction; on any failure the new version is removed and the current one stays."""
        psycopg = _psycopg()
        if not isinstance(index.lexical, LexicalIndex):
            raise TypeError("only an index built in memory (bm25s) is saved to the store")
        blobs = artifact_bytes(index)
        artifacts = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(blobs.items())}
        manifest = to_dict(index.manifest) | {"index_type": INDEX_TYPE, "artifacts": artifacts}
        conn = self.db.connect()
        version_id: int | None = None
        try:
            row = conn.execute(
                "INSERT INTO rag_versions (index_version, state, dimension) VALUES (%s, 'building', %s) RETURNING id",
                (index.manifest.index_version, index.manifest.dimension)).fetchone()
            version_id = int(row[0])
            tables = VersionTables(version_id)
            self._write_version(conn, tables, index, blobs)
            with conn.transaction():  # the switch: every replica's next poll sees it
                conn.execute("UPDATE rag_versions SET state = 'ready', manifest = %s WHERE id = %s",
                             (psycopg.types.json.Jsonb(manifest), version_id))
                conn.execute("UPDATE rag_versions SET superseded_at = now() WHERE id = "
                             "(SELECT version_id FROM rag_current) AND id <> %s", (version_id,))
                conn.execute("INSERT INTO rag_current (one, version_id) VALUES (true, %s) ON CONFLICT (one) "
                             "DO UPDATE SET version_id = excluded.version_id, switched_at = now()", (version_id,))
        except BaseException as exc:
            if version_id is not None:
                self._drop_quietly(version_id)
            conn.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"index build could not be saved to {self.describe()} ({_why(exc)}); "
                                 "the previous version stays current") from exc
            raise
        try:
            self._prune(conn, version_id)
        except psycopg.Error as exc:  # the new version is current: pruning can wait for the next build
            log.warning("old index versions in %s not pruned: %s", self.describe(), _why(exc))
        finally:
            conn.close()
        saved = Manifest(**manifest)
        dense, lexical = self._searchers(tables, saved.dimension, len(index.chunks), index.synonyms)
        return replace(index, manifest=saved, dense=dense, lexical=lexical, store_version=version_id)

    def _write_version(self, conn: Any, tables: VersionTables, index: Index, blobs: dict[str, bytes]) -> None:
        psycopg = _psycopg()
        sql = psycopg.sql
        vectors = np.ascontiguousarray(index.dense.vectors(), dtype=np.float32)
        assert isinstance(index.lexical, LexicalIndex)
        with conn.transaction():
            conn.execute(sql.SQL("CREATE TABLE {} (row integer PRIMARY KEY, chunk jsonb NOT NULL)").format(
                sql.Identifier(tables.chunks)))
            with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} (row, chunk) FROM STDIN").format(
                    sql.Identifier(tables.chunks))) as copy:
                for row, chunk in enumerate(index.chunks):
                    copy.write_row((row, psycopg.types.json.Jsonb(to_dict(chunk))))
            create_dense_table(conn, tables.dense, index.manifest.dimension)
            copy_dense(conn, tables.dense, vectors.reshape(len(index.chunks), index.manifest.dimension))
            conn.execute(sql.SQL("CREATE TABLE {} (term text NOT NULL, row integer NOT NULL, weight real NOT NULL, "
                                 "PRIMARY KEY (term, row))").format(sql.Identifier(tables.terms)))
            with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} (term, row, weight) FROM STDIN").format(
                    sql.Identifier(tables.terms))) as copy:
                for term, rows, weights in index.lexical.postings():
                    for r, w in zip(rows.tolist(), weights.tolist(), strict=True):
                        copy.write_row((term, r, w))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO rag_artifacts (version_id, name, sha256, data) VALUES (%s, %s, %s, %s)",
                    [(tables.id, name, hashlib.sha256(data).hexdigest(), data) for name, data in blobs.items()])
        create_hnsw(conn, tables.dense, m=self.cfg.hnsw_m, ef_construction=self.cfg.hnsw_ef_construction,
                    memory=self.cfg.build_memory)
        for table in (tables.chunks, tables.terms):
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))

    def _prune(self, conn: Any, current: int) -> None:
        """Drop versions left by dead builds and superseded ones beyond ``keep_builds`` that
        have been out of use for the grace period. Called holding the build lock."""
        rows = conn.execute(
            "SELECT id, state, superseded_at IS NOT NULL AND superseded_at < now() - make_interval(secs => %s) "
            "FROM rag_versions ORDER BY id DESC", (self.cfg.retire_after_s,)).fetchall()
        ready = [r for r in rows if r[1] == "ready"]
        keep = {current} | {r[0] for r in ready[: self.keep_builds]}
        for version_id, state, retired in rows:
            if version_id in keep or (state == "ready" and not retired):
                continue
            if state == "building" and version_id > current:
                continue  # a build that started after ours (another replica's, waiting for no lock)
            self._drop(conn, int(version_id))

    def _drop(self, conn: Any, version_id: int) -> None:
        sql = _psycopg().sql
        with conn.transaction():
            for table in VersionTables(version_id).all():
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
            conn.execute("DELETE FROM rag_versions WHERE id = %s", (version_id,))
        log.info("index version %d dropped from %s", version_id, self.describe())

    def _drop_quietly(self, version_id: int) -> None:
        try:
            conn = self.db.connect()
        except StoreError:
            return  # the server is gone; the next build's prune removes the leftovers
        try:
            self._drop(conn, version_id)
        except Exception as exc:
            log.warning("leftovers of failed build %d stay in %s until the next build: %s",
                        version_id, self.describe(), exc)
        finally:
            conn.close()
