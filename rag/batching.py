"""Micro-batching of question embeddings, and small bounded caches.

At most ``workers`` encodes run at once (one per core). A question that finds an
encoder free and nobody waiting is embedded at once in its own thread; otherwise it
queues, and a free worker takes everything queued (at most ``max_batch``) as one
batch, so under load the questions that arrived while the previous batches ran are
embedded together. ``window`` (0 by default) additionally holds
a batch open that long for more questions to join: a bounded wait, off by default
because on a 2-core CPU it cost a lone question more than batching saved.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MicroBatcher:
    """``encode_one(text)`` from many threads; one worker thread runs the batches."""

    def __init__(
        self, encode: Callable[[list[str]], np.ndarray], *, window: float, max_batch: int, workers: int = 1
    ) -> None:
        self._encode = encode
        self._window = window
        self._max_batch = max_batch
        self._pending: list[tuple[str, Future[np.ndarray]]] = []
        self._cond = threading.Condition()
        self._busy = 0
        """Encodes running now (in workers or inline in a caller), at most one per worker."""
        self.batches = 0
        """Forward passes run (for tests and metrics)."""
        self._workers = [
            threading.Thread(target=self._loop, name=f"rag-embed-{n}", daemon=True) for n in range(max(workers, 1))
        ]
        for worker in self._workers:
            worker.start()

    def encode_one(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        with self._cond:
            inline = not self._pending and self._busy < len(self._workers)
            if inline:  # an encoder is free and nobody waits: no hand-off to a worker thread
                self._busy += 1
            else:
                self._pending.append((text, future))
                self._cond.notify()
        if not inline:
            return future.result()
        try:
            return self._encode([text])[0]
        finally:
            with self._cond:
                self._busy -= 1
                if self._pending:
                    self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending or self._busy >= len(self._workers):
                    self._cond.wait()
                if self._window > 0:  # gather for up to `window`, or until the batch is full
                    self._cond.wait_for(lambda: len(self._pending) >= self._max_batch, timeout=self._window)
                    if not self._pending:  # another worker took them
                        continue
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                self._busy += 1
            try:
                vectors = self._encode([text for text, _ in batch])
                self.batches += 1
            except BaseException as exc:  # hand the failure to every waiting caller
                for _, future in batch:
                    future.set_exception(exc)
                continue
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify()
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)


class LRU(Generic[K, V]):
    """A thread-safe bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key: K, value: V) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def normalise_question(text: str) -> str:
    """Case and spacing do not change the meaning of a question (for cache keys)."""
    return " ".join(text.lower().split())
