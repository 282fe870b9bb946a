"""Scale run: the dense index the service would build, on synthetic vectors of growing size.

    python -m bench.scale --sizes 10000,100000,1000000 [--out scale.json]
    python -m bench.scale --stores faiss,postgres --sizes 100000,1000000 [--ef-search 40,100,200]

For each size: generate clustered 384-d vectors (:mod:`bench.synthetic`), build
``DenseIndex.build(v, exact_max_vectors=200_000)`` (exact flat inner product at or
below 200,000 vectors, IVF above, as ``rag index`` does), time ``search(q, 10)`` one
query at a time for 200 queries, and compare its top 10 with exact brute force (FAISS
``IndexFlatIP`` over the same vectors) for recall@10. Memory is this process's resident
set before and after the build. Run in its own process by ``bench/run.py`` so the
memory figures are not mixed with the model's.

With ``--stores ...,postgres`` each size is also loaded into PostgreSQL and searched with
pgvector HNSW, as ``RAG_STORE`` serves it (:mod:`bench.pg_scale`), on the same vectors,
queries and ground truth; those points are in ``store_points`` (``points`` stays FAISS's).
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
from bench.synthetic import DIM, N_CENTRES, NOISE, clustered_vectors, query_vectors, recall_at_k, timed_searches
from rag.config import StoreConfig

EXACT_MAX_VECTORS = 200_000
"""The service's default ``RAG_EXACT_MAX_VECTORS``."""
QUERIES = 200
K = 10
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def _release_freed_memory() -> None:
    """Hand freed heap back to the OS (glibc) so RSS deltas show what is really held."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: deltas may include freed scratch
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def scale_point(
    n: int, *, noise: float = NOISE, queries: int = QUERIES, k: int = K, seed: int = 0,
    vectors: np.ndarray | None = None,
) -> dict[str, object]:
    """Build, search and score one size; everything it allocates is released before it returns."""
    import faiss  # ground truth only; the service's index comes from rag.index

    from rag.index import DenseIndex

    _release_freed_memory()
    rss_before = rss_mib()
    started = time.perf_counter()
    given = vectors is not None
    vectors = vectors if vectors is not None else clustered_vectors(n, noise=noise, seed=seed)
    generate_s = time.perf_counter() - started
    _release_freed_memory()
    rss_vectors = rss_mib()

    started = time.perf_counter()
    index = DenseIndex.build(vectors, exact_max_vectors=EXACT_MAX_VECTORS)
    build_s = time.perf_counter() - started
    _release_freed_memory()
    rss_index = rss_mib()

    qs = query_vectors(queries, noise=noise, seed=seed)
    found, latencies = timed_searches(index.search, qs, k)

    truth = exact_truth(vectors, qs, k)
    recall = recall_at_k(found, truth, k)
    kind = index.kind
    del index
    if not given:
        del vectors
    _release_freed_memory()
    return {
        "store": "faiss",
        "n": n,
        "dim": DIM,
        "index": kind,
        "generate_s": round(generate_s, 3),
        "build_s": round(build_s, 3),
        "search_ms": summarise(latencies),
        "recall_at_10": round(recall, 4),
        "queries": queries,
        "vectors_mib": round(rss_vectors - rss_before, 1) if not given else round(vectors.nbytes / 2**20, 1),
        "index_rss_delta_mib": round(rss_index - rss_vectors, 1),
        "rss_after_build_mib": round(rss_index, 1),
        "faiss_threads": faiss.omp_get_max_threads(),
    }


def exact_truth(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Rows of the exact ``k`` best inner products per query (faiss ``IndexFlatIP``)."""
    import faiss

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(np.ascontiguousarray(queries), k)
    del exact
    return truth


STORES = ("faiss", "postgres")


def run_scale(
    sizes: tuple[int, ...], *, noise: float = NOISE, progress: bool = True, stores: tuple[str, ...] = ("faiss",),
    store_url: str | None = None, ef_search: tuple[int, ...] = (100,), build_memory: str = "3GB",
    hnsw_m: int = 16, hnsw_ef_construction: int = 128,
) -> dict[str, object]:
    points: list[dict[str, object]] = []
    store_points: list[dict[str, object]] = []
    with contextlib.ExitStack() as stack:
        url = store_url
        if "postgres" in stores and url is None:
            from bench.pg_scale import SERVER_SETTINGS, throwaway_server

            url = stack.enter_context(throwaway_server(SERVER_SETTINGS))
        for n in sizes:
            vectors = clustered_vectors(n, noise=noise)
            if "faiss" in stores:
                if progress:
                    print(f"scale: faiss, {n:,} vectors (noise {noise}) ...", file=sys.stderr, flush=True)
                points.append(scale_point(n, noise=noise, vectors=vectors))
                _say(progress, points[-1])
            if "postgres" in stores and url is not None:
                from bench.pg_scale import pg_point

                if progress:
                    print(f"scale: postgres, {n:,} vectors ...", file=sys.stderr, flush=True)
                qs = query_vectors(QUERIES, noise=noise)
                store_points.append(pg_point(url, vectors, qs, exact_truth(vectors, qs, K), k=K,
                                             ef_search=ef_search,
                                             cfg=StoreConfig(build_memory=build_memory, hnsw_m=hnsw_m,
                                                             hnsw_ef_construction=hnsw_ef_construction)))
                _say(progress, store_points[-1])
            del vectors
            _release_freed_memory()
    result: dict[str, object] = {
        "data": {"dim": DIM, "centres": N_CENTRES, "noise": noise, "queries": QUERIES, "k": K,
                 "exact_max_vectors": EXACT_MAX_VECTORS},
        "points": points,
    }
    if store_points:
        result["store_points"] = store_points
    return result


def _say(progress: bool, p: dict[str, object]) -> None:
    if progress:
        search = p["search_ms"]
        assert isinstance(search, dict)
        print(f"  {p['store']}: {p['index']}, build {p['build_s']} s, search p50 {search['p50']:.3f} ms, "
              f"recall@10 {p['recall_at_10']}", file=sys.stderr, flush=True)


def render(result: dict[str, object]) -> str:
    """One line per store and size: what the issue asks for, side by side."""
    rows = ["| store | vectors | index | build s | search p50 ms | p95 ms | recall@10 | memory |",
            "|---|---|---|---|---|---|---|---|"]
    points = [*result.get("points", []), *result.get("store_points", [])]  # type: ignore[misc]
    for p in sorted(points, key=lambda p: (p["n"], p["store"])):
        if p["store"] == "faiss":
            memory = f"{p['vectors_mib']} MiB vectors + {p['index_rss_delta_mib']} MiB index (RSS)"
            build = f"{p['build_s']}"
        else:
            memory = f"{p['table_mib']} MiB table + {p['index_mib']} MiB HNSW (disk)"
            build = f"{p['build_s']} (+{p['load_s']} COPY)"
        rows.append(f"| {p['store']} | {p['n']:,} | {p['index']} | {build} | {p['search_ms']['p50']:.3f} | "
                    f"{p['search_ms']['p95']:.3f} | {p['recall_at_10']:.4f} | {memory} |")
    for p in result.get("store_points", []):  # type: ignore[attr-defined]
        for s in p["by_ef_search"]:
            rows.append(f"| postgres ef_search={s['ef_search']} | {p['n']:,} | | | {s['search_ms']['p50']:.3f} | "
                        f"{s['search_ms']['p95']:.3f} | {s['recall_at_10']:.4f} | |")
    return "\n".join(rows)


def parse_sizes(raw: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in raw.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes {raw!r}: comma-separated whole numbers expected") from None
    if not sizes or any(n < K for n in sizes):
        raise argparse.ArgumentTypeError(f"--sizes {raw!r}: each size must be at least {K}")
    return sizes


def parse_stores(raw: str) -> tuple[str, ...]:
    stores = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not stores or any(s not in STORES for s in stores):
        raise argparse.ArgumentTypeError(f"--stores {raw!r}: comma-separated, from {', '.join(STORES)}")
    return stores


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="comma-separated vector counts")
    p.add_argument("--noise", type=float, default=NOISE,
                   help=f"noise relative to the centres (default {NOISE}; larger = less clustered, harder)")
    p.add_argument("--stores", type=parse_stores, default=("faiss",), help="faiss, postgres or both (default faiss)")
    p.add_argument("--store-url", default=None,
                   help="PostgreSQL with pgvector to use (default: a throw-away pgserver in a temporary folder)")
    p.add_argument("--ef-search", type=parse_sizes, default=(100,),
                   help="hnsw.ef_search values to search with (the store's figure: 100, the default, if given)")
    p.add_argument("--build-memory", default="3GB",
                   help="maintenance_work_mem of the HNSW build (default 3GB: a million 384-d vectors fit)")
    p.add_argument("--hnsw-m", type=int, default=16, help="HNSW links per node (RAG_STORE_HNSW_M)")
    p.add_argument("--hnsw-ef-construction", type=int, default=128,
                   help="HNSW build candidate list (RAG_STORE_HNSW_EF_CONSTRUCTION)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the JSON here (default: stdout; with postgres: bench/results/scale-<time>.json)")
    args = p.parse_args(argv)
    result = run_scale(args.sizes, noise=args.noise, stores=args.stores, store_url=args.store_url,
                       ef_search=args.ef_search, build_memory=args.build_memory,
                       hnsw_m=args.hnsw_m, hnsw_ef_construction=args.hnsw_ef_construction)
    text = json.dumps(result, indent=1, allow_nan=False, default=str)
    out = args.out
    if out is None and "postgres" in args.stores:
        out = Path(__file__).resolve().parent / "results" / time.strftime("scale-%Y%m%dT%H%M%SZ.json", time.gmtime())
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        print(render(result))
        print(f"written to {out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
