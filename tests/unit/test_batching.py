from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.batching import LRU, MicroBatcher, normalise_question


def _slow_encoder(calls: list[int]):  # type: ignore[no-untyped-def]
    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        time.sleep(0.02)  # a forward pass: questions pile up meanwhile
        return np.array([[float(len(t)), float(t.count("x"))] for t in texts], dtype=np.float32)

    return encode


@pytest.mark.parametrize(("window", "workers"), [(0.0, 1), (0.0, 2), (0.005, 1)])
def test_concurrent_questions_share_batches_and_get_their_own_vector(window: float, workers: int) -> None:
    calls: list[int] = []
    batcher = MicroBatcher(_slow_encoder(calls), window=window, max_batch=8, workers=workers)
    texts = ["x" * i + "y" * (40 - i) for i in range(40)]
    with ThreadPoolExecutor(16) as pool:
        vectors = list(pool.map(batcher.encode_one, texts))
    for text, vector in zip(texts, vectors, strict=True):
        assert vector.tolist() == [40.0, float(text.count("x"))]
    assert sum(calls) == 40 and max(calls) <= 8
    assert len(calls) < 40  # batching happened


def test_a_lone_question_is_not_held_back() -> None:
    batcher = MicroBatcher(lambda texts: np.zeros((len(texts), 2), np.float32), window=0.0, max_batch=8)
    started = time.perf_counter()
    batcher.encode_one("alone")
    assert time.perf_counter() - started < 0.05


def test_encoder_failure_reaches_every_waiting_caller() -> None:
    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("model gone")

    batcher = MicroBatcher(broken, window=0.0, max_batch=8, workers=2)
    with pytest.raises(RuntimeError, match="model gone"):
        batcher.encode_one("q")
    assert threading.active_count() >= 2  # workers survive a failed batch
    with pytest.raises(RuntimeError, match="model gone"):
        batcher.encode_one("again")


def test_lru_is_bounded_and_keeps_recent_entries() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    off: LRU[str, int] = LRU(0)
    off.put("a", 1)
    assert off.get("a") is None
    assert normalise_question("  Who   handles BILLING? ") == "who handles billing?"
