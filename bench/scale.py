"""Scale run: the dense index the service would build, on synthetic vectors of growing size.

    python -m bench.scale --sizes 10000,100000,1000000 [--out scale.json]

For each size: generate clustered 384-d vectors (:mod:`bench.synthetic`), build
``DenseIndex.build(v, exact_max_vectors=200_000)`` (exact flat inner product at or
below 200,000 vectors, IVF above, as ``rag index`` does), time ``search(q, 10)`` one
query at a time for 200 queries, and compare its top 10 with exact brute force (FAISS
``IndexFlatIP`` over the same vectors) for recall@10. Memory is this process's resident
set before and after the build. Run in its own process by ``bench/run.py`` so the
memory figures are not mixed with the model's.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/scale.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.stats import rss_mib, summarise
from bench.synthetic import DIM, N_CENTRES, NOISE, clustered_vectors, query_vectors, recall_at_k

EXACT_MAX_VECTORS = 200_000
"""The service's default ``RAG_EXACT_MAX_VECTORS``."""
QUERIES = 200
K = 10
WARMUP_QUERIES = 10
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def _release_freed_memory() -> None:
    """Hand freed heap back to the OS (glibc) so RSS deltas show what is really held."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: deltas may include freed scratch
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def scale_point(
    n: int, *, noise: float = NOISE, queries: int = QUERIES, k: int = K, seed: int = 0
) -> dict[str, object]:
    """Build, search and score one size; everything it allocates is released before it returns."""
    import faiss  # ground truth only; the service's index comes from rag.index

    from rag.index import DenseIndex

    _release_freed_memory()
    rss_before = rss_mib()
    started = time.perf_counter()
    vectors = clustered_vectors(n, noise=noise, seed=seed)
    generate_s = time.perf_counter() - started
    _release_freed_memory()
    rss_vectors = rss_mib()

    started = time.perf_counter()
    index = DenseIndex.build(vectors, exact_max_vectors=EXACT_MAX_VECTORS)
    build_s = time.perf_counter() - started
    _release_freed_memory()
    rss_index = rss_mib()

    qs = query_vectors(queries, noise=noise, seed=seed)
    for q in qs[:WARMUP_QUERIES]:
        index.search(q, k)
    found = np.full((queries, k), -1, dtype=np.int64)
    latencies = []
    for i, q in enumerate(qs):
        t = time.perf_counter()
        hits = index.search(q, k)
        latencies.append((time.perf_counter() - t) * 1000)
        found[i, : len(hits)] = [row for row, _ in hits]

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(np.ascontiguousarray(qs), k)
    recall = recall_at_k(found, truth, k)
    kind = index.kind
    del exact, index, vectors
    _release_freed_memory()
    return {
        "n": n,
        "dim": DIM,
        "index": kind,
        "generate_s": round(generate_s, 3),
        "build_s": round(build_s, 3),
        "search_ms": summarise(latencies),
        "recall_at_10": round(recall, 4),
        "queries": queries,
        "vectors_mib": round(rss_vectors - rss_before, 1),
        "index_rss_delta_mib": round(rss_index - rss_vectors, 1),
        "rss_after_build_mib": round(rss_index, 1),
        "faiss_threads": faiss.omp_get_max_threads(),
    }


def run_scale(sizes: tuple[int, ...], *, noise: float = NOISE, progress: bool = True) -> dict[str, object]:
    points = []
    for n in sizes:
        if progress:
            print(f"scale: {n:,} vectors (noise {noise}) ...", file=sys.stderr, flush=True)
        points.append(scale_point(n, noise=noise))
    return {
        "data": {"dim": DIM, "centres": N_CENTRES, "noise": noise, "queries": QUERIES, "k": K,
                 "exact_max_vectors": EXACT_MAX_VECTORS},
        "points": points,
    }


def parse_sizes(raw: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in raw.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes {raw!r}: comma-separated whole numbers expected") from None
    if not sizes or any(n < K for n in sizes):
        raise argparse.ArgumentTypeError(f"--sizes {raw!r}: each size must be at least {K}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="comma-separated vector counts")
    p.add_argument("--noise", type=float, default=NOISE,
                   help=f"noise relative to the centres (default {NOISE}; larger = less clustered, harder)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON here (default: standard output)")
    args = p.parse_args(argv)
    text = json.dumps(run_scale(args.sizes, noise=args.noise), indent=1, allow_nan=False, default=str)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
