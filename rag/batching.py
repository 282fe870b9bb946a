"""Micro-batching of question embeddings, and small bounded caches.

A question that finds nothing else being embedded runs at once, in its caller's
thread, on ``encode_alone`` (every core on one question: the fastest answer when the
service is quiet). Otherwise at most ``workers`` encodes run at once (one per core):
a question that finds an encoder free and nobody waiting is embedded at once in its
own thread on ``encode``; else it queues, and each free worker takes its share of the
queue (the oldest question and those closest to it in length, so a batch pads
little) as one batch. ``window`` (0 by default) additionally holds a batch open that
long for more questions to join: a bounded wait, off by default because on a 2-core
CPU it cost a lone question more than batching saved.
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
    """``encode_one(text)`` from many threads; ``workers`` threads run the queued batches."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        *,
        window: float,
        max_batch: int,
        workers: int = 1,
        encode_alone: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        self._encode = encode
        self._encode_alone = encode_alone
        self._alone = False
        """A question is being embedded with every core (nothing else may start meanwhile)."""
        self._window = window
        self._max_batch = max_batch
        self._pending: list[tuple[str, Future[np.ndarray]]] = []
        self._cond = threading.Condition()
        self._busy = 0
        """Encodes running now (in workers or inline in a caller), at most one per worker."""
        self._workers = [
            threading.Thread(target=self._loop, name=f"rag-embed-{n}", daemon=True) for n in range(max(workers, 1))
        ]
        for worker in self._workers:
            worker.start()

    def encode_one(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        encode_alone = self._encode_alone
        with self._cond:
            idle = not self._pending and not self._alone
            alone = idle and self._busy == 0 and encode_alone is not None
            inline = idle and not alone and self._busy < len(self._workers)
            if alone:  # nothing else is being embedded: this question gets every core
                self._alone = True
            elif inline:  # an encoder is free and nobody waits: no hand-off to a worker thread
                self._busy += 1
            else:
                self._pending.append((text, future))
                self._cond.notify()
        if not (alone or inline):
            return future.result()
        try:
            if alone and encode_alone is not None:
                return encode_alone([text])[0]
            return self._encode([text])[0]
        finally:
            with self._cond:
                if alone:
                    self._alone = False
                else:
                    self._busy -= 1
                if self._pending:
                    self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending or self._alone or self._busy >= len(self._workers):
                    self._cond.wait()
                if self._window > 0:  # gather for up to `window`, or until the batch is full
                    self._cond.wait_for(lambda: len(self._pending) >= self._max_batch, timeout=self._window)
                    if not self._pending or self._alone or self._busy >= len(self._workers):
                        continue  # another worker took them, or took the last free core
                # Share what waits between the encoders: two half batches on two cores
                # finish sooner than one whole batch on one.
                take = min(self._max_batch, -(-len(self._pending) // len(self._workers)))
                batch = self._take(take)
                self._busy += 1
                if self._pending:
                    self._cond.notify()  # the rest is for another free worker
            try:
                vectors = self._encode([text for text, _ in batch])
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

    def _take(self, n: int) -> list[tuple[str, Future[np.ndarray]]]:
        """The oldest waiting question and the ``n - 1`` closest to it in length (under the lock).

        A batch is padded to its longest question, so similar lengths waste less work;
        starting from the oldest keeps the queue first-come, first-served.
        """
        if n >= len(self._pending):
            batch, self._pending = self._pending, []
            return batch
        size = len(self._pending[0][0])
        order = sorted(range(1, len(self._pending)), key=lambda i: abs(len(self._pending[i][0]) - size))
        chosen = {0, *order[: n - 1]}
        batch = [item for i, item in enumerate(self._pending) if i in chosen]
        self._pending = [item for i, item in enumerate(self._pending) if i not in chosen]
        return batch


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
