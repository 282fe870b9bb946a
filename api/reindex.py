"""Rebuild the index in the background and swap it in with zero downtime.

A rebuild runs in a worker thread while the current pipeline keeps serving. When it
succeeds, the new pipeline replaces the old one in :class:`~api.readiness.Readiness`
with one assignment on the event loop: requests already running keep the pipeline
they fetched and finish on the old index; the next request sees the new one. A
failed rebuild leaves the old index serving; the failure is logged and reported by
``GET /v1/admin/reindex``. Only one rebuild runs at a time.

With the shared PostgreSQL store (``RAG_STORE``) a rebuild in any replica switches the
store's current version; :func:`follow_store` polls it and swaps the new version in here
the same way, so every replica serves what one of them built.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from api.readiness import Readiness, Service, State
from rag.config import Settings
from rag.errors import RagError

log = logging.getLogger("rag.api")

Rebuild = Callable[[Settings, Service | None, bool], Service]
"""(settings, current service, force) -> the new service; blocking."""

Follow = Callable[[Settings, Service], Service | None]
"""(settings, current service) -> a service on the store's new current version, or None; blocking."""


def rebuild_pipeline(settings: Settings, current: Service | None, force: bool) -> Service:
    """Production rebuild: with the loaded model, the index :func:`rag.builder.ensure_index`
    gives (rebuilt if the corpus or settings changed, or if forced) in a new pipeline."""
    from rag.pipeline import Pipeline

    embedder, batcher = getattr(current, "embedder", None), getattr(current, "batcher", None)
    return Pipeline.from_settings(settings, embedder=embedder, batcher=batcher, rebuild=force)


@dataclass(frozen=True, slots=True)
class ReindexStatus:
    state: str = "idle"
    """idle, running, succeeded or failed."""
    reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    index_version_before: str | None = None
    index_version_after: str | None = None
    error: str | None = None
    swaps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reindexer:
    def __init__(
        self, readiness: Readiness, settings: Settings, on_swap: Callable[[Service], None],
        rebuild: Rebuild = rebuild_pipeline,
    ) -> None:
        self._readiness = readiness
        self._settings = settings
        self._on_swap = on_swap
        self._rebuild = rebuild
        self.status = ReindexStatus()
        self.attempted_files: dict[str, str] | None = None
        """Corpus fingerprint the watcher last rebuilt for."""
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, *, reason: str, force: bool = False) -> bool:
        """Start a rebuild (from the event loop); False when one is already running."""
        if self.running:
            return False
        before = self._readiness.pipeline.manifest.index_version if self._readiness.pipeline else None
        self.status = ReindexStatus(
            state="running", reason=reason, started_at=_now(), index_version_before=before, swaps=self.status.swaps
        )
        self._task = asyncio.get_running_loop().create_task(self._run(force))
        return True

    async def wait(self) -> ReindexStatus:
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.status

    async def _run(self, force: bool) -> None:
        started = time.perf_counter()
        current = self._readiness.pipeline
        try:
            new = await anyio.to_thread.run_sync(self._rebuild, self._settings, current, force)
            version = new.manifest.index_version
        except Exception as exc:
            message = str(exc) if isinstance(exc, RagError) else f"unexpected {type(exc).__name__}"
            log.error("reindex failed, the previous index keeps serving: %s", message,
                      exc_info=not isinstance(exc, RagError))
            self.status = replace(self.status, state="failed", error=message, finished_at=_now(),
                                  seconds=round(time.perf_counter() - started, 3))
            return
        self._readiness.pipeline = new  # the swap: one assignment on the event loop
        self._on_swap(new)
        self.status = replace(self.status, state="succeeded", index_version_after=version, error=None,
                              finished_at=_now(), seconds=round(time.perf_counter() - started, 3),
                              swaps=self.status.swaps + 1)
        log.info("reindex done: index %s -> %s in %.1f s", self.status.index_version_before, version,
                 time.perf_counter() - started)


def follow_pipeline(settings: Settings, current: Service) -> Service | None:
    """Production follow: the store's current version, when it is not the one ``current``
    serves, in a new pipeline with the loaded model (:func:`rag.builder.follow_store`)."""
    from rag.builder import follow_store
    from rag.pipeline import Pipeline

    index, embedder = getattr(current, "index", None), getattr(current, "embedder", None)
    if index is None or embedder is None:
        return None
    new = follow_store(settings, embedder, index)
    return None if new is None else Pipeline(settings, new, embedder, batcher=getattr(current, "batcher", None))


RELOAD_AFTER_FAILURE_S = 10.0
"""How often a replica whose first load failed (the database was down, say) tries again."""


async def follow_store(
    reindexer: Reindexer, readiness: Readiness, settings: Settings, interval: float,
    on_swap: Callable[[Service], None], follow: Follow = follow_pipeline,
    reload: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Every ``interval`` seconds, read the shared store's current-version pointer; when
    another replica switched a new version in, load it whole off the event loop and swap it
    in with one assignment (requests in flight finish on the version they started with).

    With ``reload``, a replica whose first load failed runs it again every
    :data:`RELOAD_AFTER_FAILURE_S`: a database that was unreachable at start-up does not
    leave it unready until someone restarts it."""
    last_problem = ""
    failed_since = 0.0
    while True:
        await asyncio.sleep(interval)
        current = readiness.pipeline
        if current is None and reload is not None and readiness.state is State.FAILED:
            now = time.monotonic()
            failed_since = failed_since or now
            if now - failed_since >= RELOAD_AFTER_FAILURE_S:
                failed_since = 0.0
                readiness.state = State.LOADING
                await reload()
            continue
        if current is None or reindexer.running:
            continue  # nothing to follow yet, or our own build will swap
        try:
            new = await anyio.to_thread.run_sync(follow, settings, current)
        except Exception as exc:
            problem = str(exc) if isinstance(exc, RagError) else f"unexpected {type(exc).__name__}"
            if problem != last_problem:  # once per problem, not every poll
                log.error("following the store's index versions failed, index %s keeps serving: %s",
                          current.manifest.index_version, problem, exc_info=not isinstance(exc, RagError))
                last_problem = problem
            continue
        last_problem = ""
        if new is None or readiness.pipeline is not current:
            continue
        readiness.pipeline = new  # the swap: one assignment on the event loop
        on_swap(new)
        log.info("index %s -> %s: switched in by another replica", current.manifest.index_version,
                 new.manifest.index_version)


async def watch_corpus(reindexer: Reindexer, readiness: Readiness, settings: Settings, interval: float) -> None:
    """Poll the corpus every ``interval`` seconds; start a rebuild when a file changes."""
    from rag.corpus import corpus_fingerprint

    while True:
        await asyncio.sleep(interval)
        service = readiness.pipeline
        if service is None or reindexer.running:
            continue
        try:
            files = await anyio.to_thread.run_sync(corpus_fingerprint, settings.corpus_dir)
        except RagError as exc:
            log.warning("corpus watch: %s", exc)
            continue
        # Once per corpus state: a build that failed is not retried until a file changes again.
        if files != dict(service.manifest.files) and files != reindexer.attempted_files:
            reindexer.attempted_files = files
            reindexer.start(reason="corpus changed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
