"""One benchmark run of the whole service: prints a table and writes the figures as JSON.

    python bench/run.py [--quick] [--out bench/results/<time>.json] [--soak SECONDS [--soak-warmup SECONDS]]

In order: (1) the encode floor of both embedding backends, in process; (2) `rag index
--force` into a temporary index folder; (3) cold start of `rag serve` on that index;
(4) /v1/answer over HTTP at 1, 4, 16 and 64 clients, with repeated (cache-hit) and
unique (cache-miss) questions; (5) the server's resident memory, and with --soak a
steady 16-client load (after --soak-warmup seconds of the same) while it is sampled;
(6) the answer / encode ratio; (7) the dense index on 10k..1M synthetic vectors. Only
127.0.0.1 is used; every load loop is bounded in requests and time; the server is always
stopped. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import http_load
from bench.encode import encode_floor
from bench.questions import (
    QUESTIONS,
    UNIQUE_WARMUP,
    first_level_questions,
    repeated_questions,
    unique_questions,
)
from bench.report import answer_encode_ratio, dig, jsonable, render, targets
from bench.server import ROOT, ServeProcess, child_env
from bench.stats import median

BUILD_TIMEOUT_S = 900.0
SCALE_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Plan:
    encode_calls: int
    levels: tuple[int, ...]
    level_requests: int
    level_seconds: float
    cold_starts: int
    scale_sizes: tuple[int, ...]
    soak_seconds: float = 0.0
    soak_warmup_seconds: float = 0.0


FULL = Plan(encode_calls=200, levels=(1, 4, 16, 64), level_requests=1000, level_seconds=10.0, cold_starts=3,
            scale_sizes=(10_000, 100_000, 1_000_000))
QUICK = Plan(encode_calls=100, levels=(1, 4, 16, 64), level_requests=300, level_seconds=3.0, cold_starts=1,
             scale_sizes=(10_000, 100_000))


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    """1, 5 and 15-minute load averages: other work on the machine skews every figure."""
    return [round(v, 2) for v in os.getloadavg()]


def build_index(env: dict[str, str], index_dir: Path) -> dict[str, Any]:
    """`rag index --force` as a subprocess: its wall time and the manifest it wrote."""
    from rag.index import current_build, read_manifest

    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rag", "index", "--force"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"rag index --force exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    m = read_manifest(current_build(index_dir))
    return {"wall_s": round(wall, 3), "build_seconds": m.build_seconds, "n_chunks": m.n_chunks,
            "n_sentences": m.n_sentences, "n_documents": m.n_documents, "index_type": m.index_type,
            "index_version": m.index_version, "tokenizer": m.tokenizer, "stdout": done.stdout.strip()[-1000:]}


async def http_runs(server: ServeProcess, plan: Plan, results: dict[str, Any]) -> None:
    """Section 4 (and the memory readings of section 5) against a ready server."""
    case_numbers = itertools.count(1)  # one counter per server: a unique question is never asked twice
    # (starting at 1 with UNIQUE_WARMUP warm-up questions: see first_level_questions)
    http: dict[str, Any] = {}
    results["http"] = http
    modes = (("repeated", repeated_questions(), len(QUESTIONS)),
             ("unique", unique_questions(case_numbers), UNIQUE_WARMUP))
    for mode, questions, warmup in modes:
        warm = await http_load.warm_up(server.base_url, questions, warmup)
        if warm["errors"]:
            raise RuntimeError(f"warm-up ({mode}) failed: {warm['error_kinds']}")
        http[mode] = {}
        for clients in plan.levels:
            level = await http_load.run_level(server.base_url, questions, clients=clients,
                                              max_requests=plan.level_requests, max_seconds=plan.level_seconds,
                                              server_pid=server.pid)
            http[mode][str(clients)] = level
            say(f"{mode:8} {clients:2} clients: {level['rps']} req/s, p50 {dig(level, 'latency_ms', 'p50'):.2f} ms, "
                f"hits {level['cache_hits']}/{level['ok']}, errors {level['errors']}")
    results["memory"]["rss_after_load_mib"] = round(server.rss_mib(), 1)
    if plan.soak_seconds > 0:
        say(f"soak: {plan.soak_warmup_seconds:.0f} s warm-up then {plan.soak_seconds:.0f} s at 16 clients, "
            "RSS every 10 s")
        results["memory"]["soak"] = await http_load.soak(
            server.base_url, unique_questions(case_numbers), server_pid=server.pid, seconds=plan.soak_seconds,
            warmup_seconds=plan.soak_warmup_seconds,
            on_sample=lambda phase, t, rss: say(f"{phase} t={t:.0f} s RSS {rss:.1f} MiB"),
        )


def serve_and_load(env: dict[str, str], log_path: Path, plan: Plan, results: dict[str, Any]) -> None:
    """Sections 3-5: cold starts, then the HTTP load and memory on the last server started."""
    cold: list[float] = []
    results["cold_start"] = {"runs_s": cold, "median_s": None, "poll_ms": 20}
    for attempt in range(plan.cold_starts):
        server = ServeProcess(env, log_path)
        try:
            cold.append(round(server.start_and_wait(), 3))
            results["cold_start"]["median_s"] = median(cold)
            say(f"cold start {attempt + 1}: {cold[-1]:.3f} s (pid {server.pid})")
            if attempt == plan.cold_starts - 1:
                results["memory"] = {"rss_start_mib": round(server.rss_mib(), 1)}
                asyncio.run(http_runs(server, plan, results))
        finally:
            code = server.stop()
            say(f"server pid {server.pid} stopped (exit {code})")


def scale_run(sizes: tuple[int, ...], out: Path) -> dict[str, Any]:
    """Section 7 in its own process, so its memory figures are not mixed with the model's."""
    command = [sys.executable, "-m", "bench.scale", "--sizes", ",".join(map(str, sizes)), "--out", str(out)]
    subprocess.run(command, cwd=ROOT, timeout=SCALE_TIMEOUT_S, check=True)
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = replace(QUICK if args.quick else FULL, soak_seconds=args.soak, soak_warmup_seconds=args.soak_warmup)
    results: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "argv": sys.argv[1:],
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_start": loadavg(),
            "questions": len(QUESTIONS),
        },
        "plan": asdict(plan) | {"server_env": args.server_env},
    }
    try:
        with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
            tmp = Path(tmp_name)
            index_dir = tmp / "index"
            say(f"encode floor ({plan.encode_calls} calls per backend)")
            from rag.pipeline import MODELS_DIR

            questions = first_level_questions(plan.encode_calls)
            results["encode"] = encode_floor(questions, index_dir / MODELS_DIR, plan.encode_calls)
            env = child_env({
                "RAG_INDEX_DIR": str(index_dir),
                "RAG_CORPUS_DIR": str(ROOT / "corpus"),
                "RAG_CALIBRATION_FILE": str(ROOT / "eval" / "calibration.json"),
                "RAG_DATA_DIR": str(tmp / "data"),
                "RAG_RATE_LIMIT_PER_MINUTE": "0",
            } | args.server_env)
            say("rag index --force")
            results["index_build"] = build_index(env, index_dir)
            serve_and_load(env, tmp / "server.log", plan, results)
            results["ratio"] = answer_encode_ratio(results)
            say(f"scale run: {', '.join(f'{n:,}' for n in plan.scale_sizes)} vectors")
            results["scale"] = scale_run(plan.scale_sizes, tmp / "scale.json")
    except (Exception, KeyboardInterrupt) as exc:  # keep what was measured; say what stopped the run
        results["error"] = f"{type(exc).__name__}: {exc}"
    results["ratio"] = results.get("ratio") or answer_encode_ratio(results)
    results["targets"] = [t.as_dict() for t in targets(results)]
    results["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["meta"]["loadavg_end"] = loadavg()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="shorter load levels, one cold start, scale at 10k and 100k only (about a minute)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/<UTC time>.json)")
    p.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                   help="after the load levels, 16 clients for this long while the server's RSS is sampled")
    p.add_argument("--soak-warmup", type=float, default=600.0, metavar="SECONDS",
                   help="the same load for this long before the soak, reported apart (default 600)")
    p.add_argument("--server-env", action="append", default=[], metavar="RAG_NAME=VALUE",
                   help="extra setting for `rag index` and `rag serve` (repeatable), e.g. RAG_MAX_BATCH=4")
    args = p.parse_args(argv)
    try:
        args.server_env = parse_server_env(args.server_env)
    except ValueError as exc:
        p.error(str(exc))
    if args.soak < 0:
        p.error("--soak must be 0 or more seconds")
    if args.soak_warmup < 0:
        p.error("--soak-warmup must be 0 or more seconds")
    if args.out is None:
        args.out = ROOT / "bench" / "results" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    return args


def parse_server_env(items: list[str]) -> dict[str, str]:
    """``["RAG_X=1", ...]`` -> ``{"RAG_X": "1"}``; only ``RAG_*`` settings, and not the ones the bench owns."""
    owned = {"RAG_INDEX_DIR", "RAG_CORPUS_DIR", "RAG_CALIBRATION_FILE", "RAG_DATA_DIR", "RAG_HOST", "RAG_PORT",
             "RAG_RATE_LIMIT_PER_MINUTE", "RAG_API_KEYS", "RAG_API_KEYS_FILE"}
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("RAG_") or name in owned:
            raise ValueError(f"--server-env {item!r}: expected RAG_NAME=VALUE, not one of {', '.join(sorted(owned))}")
        env[name] = value
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(jsonable(results), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                        encoding="utf-8")
    print(render(results))
    print(f"\nJSON: {args.out}")
    return 1 if results.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
