"""The encode floor: the questions of the 1-client HTTP level through each backend, in process.

``/v1/answer`` cannot be faster than embedding the question (unless the answer is
cached), so the median of ``encode([q])`` is the floor the HTTP figures are compared
with. Every backend runs in this one process, one after the other, on the same texts:
the questions the 1-client cache-miss level then sends over HTTP, in the same order.
ONNX is timed twice: ``encode`` (the one-thread session the batch workers share) and
``encode_alone`` (the every-core session a question gets when nothing else is being
embedded, which is what a lone client's request uses).
"""

from __future__ import annotations

import functools
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.stats import summarise

WARMUP_CALLS = 10


def _one(encode: Callable[[list[str]], object], text: str) -> object:
    return encode([text])


def time_calls(fn: Callable[[str], object], texts: Sequence[str], calls: int,
               warmup: int = WARMUP_CALLS) -> list[float]:
    """Milliseconds of each of ``calls`` calls ``fn(text)``, texts in rotation, after ``warmup`` untimed ones."""
    rotation = itertools.cycle(texts)
    for _ in range(warmup):
        fn(next(rotation))
    times = []
    for text in itertools.islice(rotation, calls):
        started = time.perf_counter()
        fn(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def encode_floor(questions: Sequence[str], onnx_cache_dir: Path, calls: int) -> dict[str, object]:
    """Load both backends, time one-question encodes of ``questions`` ``calls`` times each, compare the vectors.

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
    if (torch_embedder.backend, onnx_embedder.backend) != ("torch", "onnx"):
        raise RuntimeError(f"asked for torch and onnx, got {torch_embedder.backend} and {onnx_embedder.backend}")

    runs: dict[str, tuple[Callable[[list[str]], np.ndarray], float]] = {
        "torch": (torch_embedder.encode, torch_load_s),
        "onnx": (onnx_embedder.encode, onnx_load_s),
        "onnx_alone": (onnx_embedder.encode_alone, onnx_load_s),
    }
    results: dict[str, object] = {"questions": len(questions), "first_question": questions[0], "calls": calls,
                                  "warmup": WARMUP_CALLS}
    for name, (encode, load_s) in runs.items():
        times = time_calls(functools.partial(_one, encode), questions, calls)
        results[name] = {"load_s": round(load_s, 3), "ms": summarise(times), "stdev_ms": statistics.pstdev(times)}
    sample = list(questions[: min(len(questions), 50)])
    reference = torch_embedder.encode(sample)
    for name in ("onnx", "onnx_alone"):
        results[f"min_cosine_torch_{name}"] = float(np.min(np.sum(reference * runs[name][0](sample), axis=1)))
    return results
