"""Bounded work: at most ``max_in_flight`` blocking calls at once, each with a time-out.

Every pipeline call (answer, search, sources) and every feedback write runs in a worker
thread through :meth:`WorkGate.run`. A call first needs a place: when ``max_in_flight``
calls are running it waits up to ``max_queue_wait_ms`` for one, then gets a 503
``overloaded`` with ``Retry-After``. So under a flood the service answers the calls it
can in normal time and refuses the rest at once, instead of letting every caller's
latency grow with the queue.

A call that takes longer than ``request_timeout_ms`` gets a 503 ``timeout`` (also with
``Retry-After``): 503 rather than 504 because there is no upstream here, and for a
client both mean the same thing: this server is too busy now, try again shortly. The
thread cannot be interrupted, so the call keeps its place until it really ends: a
stuck pipeline fills the places and turns into quick 503s, never into an unbounded pile
of threads. Who gives the place back is decided under a lock (:class:`_Place`): the
caller when the thread is done or never started, the thread itself when the caller
stopped waiting while it ran. No lifespan is needed (an app given a pipeline has none
in some tests).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

from api.errors import ApiError
from api.metrics import Metrics
from rag.config import ServerConfig
from rag.errors import RagError

log = logging.getLogger("rag.api")

R = TypeVar("R")

RETRY_AFTER_BUSY = "1"
"""Seconds a refused caller is told to wait: places free up within milliseconds."""


class WorkGate:
    """The app's limit on blocking work; one per app (per worker process)."""

    def __init__(self, server: ServerConfig, metrics: Metrics) -> None:
        self.max_in_flight = server.max_in_flight
        self.queue_wait = server.max_queue_wait_ms / 1000
        self.timeout = server.request_timeout_ms / 1000
        self._metrics = metrics
        self._places = anyio.Semaphore(server.max_in_flight)

    async def run(self, fn: Callable[..., R], *args: Any, timeout: bool = True) -> R:
        """``fn(*args)`` in a worker thread, once there is a place; its result or exception.

        Raises:
            ApiError: 503 ``overloaded`` when no place frees up in time; 503 ``timeout``
                when ``timeout`` is on and the call outlasts ``request_timeout_ms``.
        """
        await self._enter()
        place = _Place(self._leave)

        def call() -> R:
            if not place.thread_starts():
                raise _Abandoned
            try:
                return fn(*args)
            finally:
                place.thread_ends()

        with anyio.move_on_after(self.timeout if timeout else None):
            try:
                return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
            finally:
                place.caller_leaves()  # also on cancellation (time-out, client gone)
        self._metrics.refused.labels(reason="timeout").inc()
        log.warning("a %s call took longer than %.1f s; its caller got a 503", _name(fn), self.timeout)
        raise ApiError(
            503,
            "timeout",
            f"the request took longer than {self.timeout:g} s: the server is busy, retry shortly",
            headers={"Retry-After": RETRY_AFTER_BUSY},
        )

    async def _enter(self) -> None:
        try:
            if self.queue_wait <= 0:
                self._places.acquire_nowait()
            else:
                with anyio.fail_after(self.queue_wait):
                    await self._places.acquire()
        except (anyio.WouldBlock, TimeoutError):
            self._metrics.refused.labels(reason="overloaded").inc()
            raise ApiError(
                503,
                "overloaded",
                f"the server is at capacity ({self.max_in_flight} requests in progress): retry shortly",
                headers={"Retry-After": RETRY_AFTER_BUSY},
            ) from None
        self._metrics.work_in_flight.inc()

    def _leave(self) -> None:
        """Give a place back (on the event loop)."""
        self._places.release()
        self._metrics.work_in_flight.dec()


class _Abandoned(RagError):
    """The caller left before the thread started: the call is not made at all.

    Raised in the worker thread to nobody: the caller that could see it is gone.
    """


class _Place:
    """One call's place, given back exactly once, by whoever is last: caller or thread.

    States: ``queued`` -> ``running`` -> ``done`` (thread ended, caller still waiting);
    ``left`` (caller gone while the call was queued or running); ``returned`` (given back).
    """

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back = give_back
        self._lock = threading.Lock()
        self._state = "queued"

    def thread_starts(self) -> bool:
        """In the worker thread: False if the caller already left (then the call is not made)."""
        with self._lock:
            if self._state != "queued":
                return False
            self._state = "running"
            return True

    def thread_ends(self) -> None:
        with self._lock:
            caller_gone = self._state == "left"
            self._state = "returned" if caller_gone else "done"
        if caller_gone:
            with suppress(RuntimeError):  # the event loop is gone (shutdown): nothing to give back to
                anyio.from_thread.run_sync(self._give_back)

    def caller_leaves(self) -> None:
        """On the event loop, when the caller stops waiting (result, error or cancellation)."""
        with self._lock:
            mine = self._state in ("queued", "done")  # never started, or already ended
            if mine:
                self._state = "returned"
            elif self._state == "running":
                self._state = "left"
        if mine:
            self._give_back()


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", type(fn).__name__))
