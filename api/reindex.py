"""Rebuild the index in the background and swap it in with zero downtime.

A rebuild runs in a worker thread while the current pipeline keeps serving. When it
succeeds, the new pipeline replaces the old one in :class:`~api.readiness.Readiness`
with one assignment on the event loop: requests already running keep the pipeline
they fetched and finish on the old index; the next request sees the new one. A
failed rebuild leaves the old index serving; the failure is logged and reported by
``GET /v1/admin/reindex``. Only one rebuild runs at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from api.readiness import Readiness, Service
from rag.config import Settings
from rag.errors import RagError

log = logging.getLogger("rag.api")

Rebuild = Callable[[Settings, Service | None, bool], Service]
"""(settings, current service, force) -> the new service; blocking."""


def rebuild_pipeline(settings: Settings, current: Service | None, force: bool) -> Service:
    """Production rebuild: with the loaded model, the index :func:`rag.builder.ensure_index`
    gives (rebuilt if the corpus or settings changed, or if forced) in a new pipeline."""
    from rag.pipeline import Pipeline

    embedder = getattr(current, "embedder", None)
    return Pipeline.from_settings(settings, embedder=embedder, rebuild=force)


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
