"""``/v1/answer`` under concurrent clients: latency percentiles, throughput, errors.

Every level is bounded twice, by a request budget and by a deadline, and stops by itself;
a request that hangs is cut by the client timeout. Besides the client-side latency each
200 response's own ``timing_ms`` is read: ``total`` (time inside the pipeline) and
``cache_hit`` (set when the answer came from the service's answer cache), so the report
can say how many requests really were hits or misses and how much of the latency is
spent outside the pipeline (HTTP, framework, event loop, thread hop).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bench.http1 import Connection, HttpError
from bench.stats import cpu_seconds, rss_mib, summarise, system_busy_seconds

REQUEST_TIMEOUT_S = 30.0
ENDPOINT = "/v1/answer"


@dataclass
class LevelResult:
    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    """The response's own ``timing_ms`` per stage (embed, search, answer, total)."""
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    cache_hits: int = 0
    abstained: int = 0


async def _client(
    connection: Connection, questions: Iterator[str], deadline: float, budget: list[int], out: LevelResult
) -> None:
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1  # one event loop, no await in between: no lock needed
            out.sent += 1
            question = next(questions)
            started = time.perf_counter()
            try:
                r = await connection.post_json(ENDPOINT, {"question": question})
            except HttpError as exc:
                out.errors[str(exc).split(":")[0]] += 1
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if r.status != 200:
                out.errors[f"HTTP {r.status}"] += 1
                continue
            _record(out, elapsed_ms, r.json())
    finally:
        await connection.close()


def _record(out: LevelResult, elapsed_ms: float, body: dict[str, object]) -> None:
    out.latencies_ms.append(elapsed_ms)
    timing = body.get("timing_ms")
    timing = timing if isinstance(timing, dict) else {}
    out.server_ms.append(float(timing.get("total", float("nan"))))
    for stage, ms in timing.items():
        if stage != "cache_hit" and isinstance(ms, int | float):
            out.stages_ms.setdefault(stage, []).append(float(ms))
    out.cache_hits += bool(timing.get("cache_hit"))
    out.abstained += bool(body.get("abstained"))


async def run_level(
    base_url: str,
    questions: Iterator[str],
    *,
    clients: int,
    max_requests: int,
    max_seconds: float,
    server_pid: int | None = None,
) -> dict[str, object]:
    """``clients`` concurrent loops until ``max_requests`` are sent or ``max_seconds`` pass."""
    out = LevelResult()
    budget = [max_requests]
    connections = [Connection(base_url, REQUEST_TIMEOUT_S) for _ in range(clients)]
    server_cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    client_cpu0, busy0 = cpu_seconds(), system_busy_seconds()
    started = time.perf_counter()
    deadline = started + max_seconds
    await asyncio.gather(*(_client(c, questions, deadline, budget, out) for c in connections))
    seconds = time.perf_counter() - started
    client_cpu = cpu_seconds() - client_cpu0
    server_cpu = cpu_seconds(server_pid) - server_cpu0 if server_pid else None
    others = system_busy_seconds() - busy0 - client_cpu - (server_cpu or 0.0)
    return level_summary(out, seconds, clients=clients, client_cpu_s=client_cpu, server_cpu_s=server_cpu,
                         other_cpu_s=others if server_pid else None)


def level_summary(
    out: LevelResult,
    seconds: float,
    *,
    clients: int,
    client_cpu_s: float,
    server_cpu_s: float | None,
    other_cpu_s: float | None = None,
) -> dict[str, object]:
    """The figures of one level; ``other_cpu_s`` is what every other process on the machine used."""
    ok = len(out.latencies_ms)
    server_ms = [v for v in out.server_ms if v == v]  # drop NaN
    return {
        "clients": clients,
        "seconds": round(seconds, 3),
        "sent": out.sent,
        "ok": ok,
        "errors": sum(out.errors.values()),
        "error_kinds": dict(out.errors),
        "rps": round(ok / seconds, 1) if seconds > 0 else float("nan"),
        "latency_ms": summarise(out.latencies_ms),
        "server_total_ms": summarise(server_ms),
        "server_stage_p50_ms": {stage: round(summarise(v)["p50"], 3) for stage, v in sorted(out.stages_ms.items())},
        "cache_hits": out.cache_hits,
        "cache_hit_rate": round(out.cache_hits / ok, 4) if ok else float("nan"),
        "abstained": out.abstained,
        "client_cpu_ms_per_request": round(client_cpu_s * 1000 / ok, 3) if ok else float("nan"),
        "server_cpu_ms_per_request": round(server_cpu_s * 1000 / ok, 3) if ok and server_cpu_s is not None
        else float("nan"),
        "server_cores_busy": round(server_cpu_s / seconds, 2) if server_cpu_s is not None and seconds > 0
        else float("nan"),
        "other_processes_cores_busy": round(max(other_cpu_s, 0.0) / seconds, 2)
        if other_cpu_s is not None and seconds > 0 else float("nan"),
    }


async def warm_up(base_url: str, questions: Iterator[str], count: int) -> dict[str, object]:
    """``count`` sequential requests, not measured (and, for repeated questions, filling the cache)."""
    return await run_level(base_url, questions, clients=1, max_requests=count, max_seconds=120.0)


async def soak(
    base_url: str,
    questions: Iterator[str],
    *,
    server_pid: int,
    seconds: float,
    warmup_seconds: float = 0.0,
    clients: int = 16,
    sample_every_s: float = 10.0,
    on_sample: Callable[[str, float, float], None] | None = None,
) -> dict[str, object]:
    """Steady load: ``warmup_seconds`` then ``seconds`` measured, the server's VmRSS sampled
    every ``sample_every_s`` in both phases.

    The warm-up is the same load, reported on its own: under concurrent load the resident set
    climbs to a high-water mark (malloc's per-thread arenas, a large native block's pages
    being touched) that is raised more and more rarely, so growth is judged on the window
    after it (bench/README.md, section 5).
    """
    warm = None
    if warmup_seconds > 0:
        warm = await _sampled_load(base_url, questions, server_pid=server_pid, seconds=warmup_seconds,
                                   clients=clients, sample_every_s=sample_every_s,
                                   on_sample=(lambda t, r: on_sample("warm-up", t, r)) if on_sample else None)
    measured = await _sampled_load(base_url, questions, server_pid=server_pid, seconds=seconds, clients=clients,
                                   sample_every_s=sample_every_s,
                                   on_sample=(lambda t, r: on_sample("soak", t, r)) if on_sample else None)
    return {"warmup": warm, **measured}


async def _sampled_load(
    base_url: str,
    questions: Iterator[str],
    *,
    server_pid: int,
    seconds: float,
    clients: int,
    sample_every_s: float,
    on_sample: Callable[[float, float], None] | None,
) -> dict[str, object]:
    samples: list[tuple[float, float]] = [(0.0, rss_mib(server_pid))]
    started = time.perf_counter()
    load = asyncio.ensure_future(
        run_level(base_url, questions, clients=clients, max_requests=max(1, int(seconds * 5000)),
                  max_seconds=seconds, server_pid=server_pid)
    )
    while not load.done():
        with contextlib.suppress(TimeoutError):  # a sampling tick; the load goes on
            await asyncio.wait_for(asyncio.shield(load), timeout=sample_every_s)
        t = time.perf_counter() - started
        samples.append((round(t, 1), rss_mib(server_pid)))
        if on_sample:
            on_sample(*samples[-1])
    level = load.result()
    rss = [round(r, 1) for _, r in samples]  # rounded once, so first + growth = last as printed
    return {
        "seconds": seconds,
        "clients": clients,
        "load": level,
        "rss_samples_mib": [[t, r] for (t, _), r in zip(samples, rss, strict=True)],
        "rss_first_mib": rss[0],
        "rss_last_mib": rss[-1],
        "rss_max_mib": max(rss),
        "rss_growth_mib": round(rss[-1] - rss[0], 1),
    }
