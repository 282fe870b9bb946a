"""Where builds are kept: the seam between the builder and the two stores.

- :class:`FolderStore` (the default): FAISS + BM25 files under ``RAG_INDEX_DIR``, one machine's
  (:mod:`rag.index`).
- ``rag.pg_store.PgIndexStore`` (``RAG_STORE=postgresql://…``): versions in PostgreSQL with
  pgvector, shared by every replica pointed at the database.

Both load the current build whole (every artifact checked against the manifest's sha256)
and save a complete new build before making it current, so a failed build leaves the last
good one serving.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from rag.config import Settings
from rag.index import Index, load_index, read_manifest, save_index


class IndexStore(Protocol):
    shared: bool
    """True when other processes (replicas) read and write the same builds."""

    def describe(self) -> str:
        """Where the builds are, for messages (a folder, or the database URL without password)."""
        ...

    def load(self) -> Index:
        """The current build. Raises IndexNotFoundError, IndexCorruptError (or StoreError)."""
        ...

    def save(self, index: Index) -> Index:
        """Save ``index`` (built in memory) as a new build, make it current, and return it as saved."""
        ...

    def build_lock(self) -> AbstractContextManager[None]:
        """Held while building: one build at a time over every process sharing the store."""
        ...

    def current_version(self) -> int | None:
        """A cheap token of which build is current (None: the store cannot tell cheaply)."""
        ...



class FolderStore:
    """Builds under one folder (``RAG_INDEX_DIR``), switched by the atomic ``CURRENT`` file."""

    shared = False

    def __init__(self, index_dir: Path, keep_builds: int = 2) -> None:
        self.index_dir = index_dir
        self.keep_builds = keep_builds

    def describe(self) -> str:
        return str(self.index_dir)

    def load(self) -> Index:
        return load_index(self.index_dir)

    def save(self, index: Index) -> Index:
        path = save_index(index, self.index_dir, self.keep_builds)
        # the manifest as saved: with the hash of every artifact
        return replace(index, path=path, manifest=read_manifest(path))

    @contextmanager
    def build_lock(self) -> Iterator[None]:
        yield  # one process per folder: builds do not need to wait for each other

    def current_version(self) -> int | None:
        return None


def open_store(settings: Settings) -> IndexStore:
    """The store ``settings`` name: PostgreSQL when ``RAG_STORE`` is set, else the index folder."""
    if settings.store.url:
        from rag.pg_store import PgIndexStore

        return PgIndexStore(settings.store, settings.index.keep_builds)
    return FolderStore(settings.index_dir, settings.index.keep_builds)
