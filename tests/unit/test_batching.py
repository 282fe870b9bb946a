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


def test_a_lone_question_gets_every_core_and_nothing_overlaps_it() -> None:
    spans: list[tuple[str, float, float]] = []

    def timed(kind: str):  # type: ignore[no-untyped-def]
        def encode(texts: list[str]) -> np.ndarray:
            started = time.perf_counter()
            time.sleep(0.01)
            spans.append((kind, started, time.perf_counter()))
            return np.array([[float(len(t)), 0.0] for t in texts], dtype=np.float32)

        return encode

    batcher = MicroBatcher(timed("workers"), window=0.0, max_batch=8, workers=2, encode_alone=timed("alone"))
    assert batcher.encode_one("quiet service").tolist() == [13.0, 0.0]
    assert [kind for kind, _, _ in spans] == ["alone"]
    with ThreadPoolExecutor(8) as pool:
        vectors = list(pool.map(batcher.encode_one, [f"q{'x' * i}" for i in range(24)]))
    assert [v[0] for v in vectors] == [float(1 + i) for i in range(24)]
    kinds = {kind for kind, _, _ in spans[1:]}
    assert "workers" in kinds  # under load the one-core workers take over
    for kind, start, end in spans:
        if kind == "alone":  # no other encode ran while a question had every core
            assert not any(s < end and start < e for k, s, e in spans if (k, s, e) != (kind, start, end))


def test_a_worker_takes_half_the_queue_grouped_by_length() -> None:
    release = threading.Event()
    batches: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        release.wait(5)
        batches.append(list(texts))
        return np.zeros((len(texts), 2), np.float32)

    batcher = MicroBatcher(encode, window=0.0, max_batch=8, workers=2)
    texts = ["a" * 5, "b" * 40, "c" * 6, "d" * 41, "e" * 7, "f" * 42, "g" * 5, "h" * 40]
    with ThreadPoolExecutor(len(texts) + 2) as pool:
        blockers = [pool.submit(batcher.encode_one, "busy") for _ in range(2)]  # both workers now busy
        time.sleep(0.05)
        futures = [pool.submit(batcher.encode_one, t) for t in texts]
        time.sleep(0.1)  # all eight are queued behind the two running encodes
        release.set()
        for f in [*blockers, *futures]:
            f.result(5)
    queued = [sorted(len(t) for t in b) for b in batches if b != ["busy"]]
    # the first free worker takes half the queue: the oldest question and the three nearest it in length
    assert queued[0] == [5, 5, 6, 7]
    assert sorted(n for b in queued[1:] for n in b) == [40, 40, 41, 42] and max(map(len, queued)) == 4


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
