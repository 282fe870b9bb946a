"""The encode floor: one question through each embedding backend, in process.

``/v1/answer`` cannot be faster than embedding the question (unless the answer is
cached), so the median of ``encode([q])`` is the floor the HTTP figures are compared
with. Both backends run in this one process, one after the other, on the same text.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.stats import summarise

WARMUP_CALLS = 10


def time_calls(fn: Callable[[], object], calls: int, warmup: int = WARMUP_CALLS) -> list[float]:
    """Milliseconds of each of ``calls`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def encode_floor(question: str, onnx_cache_dir: Path, calls: int) -> dict[str, object]:
    """Load both backends, time ``encode([question])`` ``calls`` times each, compare the vectors.

    ``onnx_cache_dir`` receives the verified ONNX export (``<index dir>/models`` makes
    it the one ``rag index`` and ``rag serve`` then reuse).
    """
    from rag.config import EmbeddingConfig
    from rag.embedding import SentenceTransformerEmbedder, load_embedder

    started = time.perf_counter()
    torch_embedder = SentenceTransformerEmbedder.load(EmbeddingConfig(backend="torch"))
    torch_load_s = time.perf_counter() - started
    started = time.perf_counter()
    onnx_embedder = load_embedder(EmbeddingConfig(backend="onnx"), onnx_cache_dir)
    onnx_load_s = time.perf_counter() - started  # includes export + verification on a cold cache

    results: dict[str, object] = {"question": question, "calls": calls, "warmup": WARMUP_CALLS}
    vectors = {}
    for name, embedder, load_s in (("torch", torch_embedder, torch_load_s), ("onnx", onnx_embedder, onnx_load_s)):
        if embedder.backend != name:
            raise RuntimeError(f"asked for the {name} backend, got {embedder.backend}")
        times = time_calls(lambda e=embedder: e.encode([question]), calls)
        vectors[name] = embedder.encode([question])[0]
        results[name] = {"load_s": round(load_s, 3), "ms": summarise(times), "stdev_ms": statistics.pstdev(times)}
    results["cosine_torch_onnx"] = float(np.dot(vectors["torch"], vectors["onnx"]))
    return results
