"""Whether the pipeline is there yet: loading, ready or failed.

The index (and the model) load in the background after start-up, so ``/healthz``
answers at once and ``/readyz`` turns 200 when the pipeline is usable. Every ``/v1``
call goes through :meth:`Readiness.service`, which is a 503 until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import anyio.to_thread

from api.errors import ApiError
from rag.config import Settings
from rag.datatypes import Answer, Manifest, Passage, SourceInfo, Turn
from rag.errors import RagError

log = logging.getLogger("rag.api")

RETRY_AFTER_LOADING = "5"
"""Seconds a client is told to wait while the index loads (a build takes ~15 s)."""


class Service(Protocol):
    """What the API needs from :class:`rag.pipeline.Pipeline` (tests pass a fake)."""

    @property
    def manifest(self) -> Manifest: ...

    def answer(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer: ...

    def search(self, question: str, k: int | None = None) -> tuple[Passage, ...]: ...

    def sources(self) -> tuple[SourceInfo, ...]: ...


Loader = Callable[[Settings], Service]
"""Builds the service from settings; blocking (runs in a worker thread)."""


def load_pipeline(settings: Settings) -> Service:
    """The production loader. Imported lazily: ``rag.pipeline`` pulls in torch and faiss."""
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(settings)


class State(Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(slots=True)
class Readiness:
    """Mutable on purpose: written once by :func:`load`, read by every request.

    Written only from the event loop, so no lock is needed.
    """

    state: State = State.LOADING
    pipeline: Service | None = None
    failure: str | None = None
    """Exception class name when loading failed; the message itself goes to the log only."""

    @classmethod
    def with_pipeline(cls, pipeline: Service) -> Readiness:
        return cls(state=State.READY, pipeline=pipeline)

    def service(self) -> Service:
        """The loaded pipeline, or a 503 that says why there is none."""
        if self.state is State.READY and self.pipeline is not None:
            return self.pipeline
        if self.state is State.FAILED:
            raise ApiError(
                503,
                "index_unavailable",
                f"the index failed to load ({self.failure}): see the server log",
            )
        raise ApiError(
            503,
            "not_ready",
            "the index is still loading: retry shortly",
            headers={"Retry-After": RETRY_AFTER_LOADING},
        )


async def load(readiness: Readiness, settings: Settings, loader: Loader, on_ready: Callable[[Service], None]) -> None:
    """Run ``loader`` in a worker thread and record the outcome; never raises.

    A failure is logged (``RagError`` messages say what to do; anything else with its
    traceback) and leaves the server up and not ready, so ``/readyz`` reports it.
    """
    started = time.perf_counter()
    try:
        # abandon_on_cancel: a shutdown during a long index build does not wait for it.
        pipeline = await anyio.to_thread.run_sync(loader, settings, abandon_on_cancel=True)
        manifest = pipeline.manifest
        on_ready(pipeline)
    except RagError as exc:
        readiness.state, readiness.failure = State.FAILED, type(exc).__name__
        log.error("pipeline failed to load: %s", exc)
        return
    except Exception as exc:
        readiness.state, readiness.failure = State.FAILED, type(exc).__name__
        log.exception("pipeline failed to load: unexpected %s", type(exc).__name__)
        return
    readiness.pipeline, readiness.state = pipeline, State.READY
    log.info(
        "ready: index %s (%d chunks from %d documents, model %s) loaded in %.1f s",
        manifest.index_version,
        manifest.n_chunks,
        manifest.n_documents,
        manifest.model_name,
        time.perf_counter() - started,
    )
