"""Overload: a real server with room for 2 calls at once, flooded by 64 clients for ~8 s.

Every response must be a 200 or a quick 503 (``overloaded`` or ``timeout``, with
``Retry-After``) within the time-out; no request may hang; once the flood stops a
request is answered promptly. The figures (counts by outcome, latency percentiles,
throughput) are printed, so they can be quoted::

    python -m pytest tests/e2e/test_overload_e2e.py -q -s
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from eval.stats import percentile
from tests.e2e.serving import Server

pytestmark = pytest.mark.e2e

CLIENTS = 64
DURATION_S = 8.0
MAX_IN_FLIGHT = 2
QUEUE_WAIT_MS = 100
TIMEOUT_MS = 3000
CLIENT_TIMEOUT_S = TIMEOUT_MS / 1000 + 5
"""A response later than this counts as a hang."""

QUESTIONS = [
    "Who handles billing questions once my customer buys through a CSP partner?",
    "renewal of an EA coming up",
    "customer wants to swap their CSP partner for another one",
    "new workload the current partner cannot support",
]


@pytest.fixture(scope="module")
def small_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server with little room, reusing the session server's index."""
    env = {
        "RAG_INDEX_DIR": str(server.folder / "index"),
        "RAG_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
        "RAG_MAX_QUEUE_WAIT_MS": str(QUEUE_WAIT_MS),
        "RAG_REQUEST_TIMEOUT_MS": str(TIMEOUT_MS),
    }
    small = Server(tmp_path_factory.mktemp("overload"), env)
    try:
        small.start()
        yield small
    finally:
        small.stop()


async def _client(base: str, n: int, stop_at: float, results: list[tuple[str, float]]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            path = "/v1/search" if i % 4 == 0 else "/v1/answer"
            question = f"{QUESTIONS[(n + i) % len(QUESTIONS)]} ({n}.{i})"  # unique: no answer cache
            started = time.perf_counter()
            try:
                r = await client.post(path, json={"question": question})
            except httpx.TimeoutException:
                results.append(("hung", time.perf_counter() - started))
                continue
            seconds = time.perf_counter() - started
            if r.status_code == 200:
                results.append(("200", seconds))
            elif r.status_code == 503 and r.headers.get("retry-after"):
                results.append((f"503 {r.json()['error']['code']}", seconds))
            else:
                results.append((f"{r.status_code} unexpected", seconds))


async def _flood(base: str) -> list[tuple[str, float]]:
    results: list[tuple[str, float]] = []
    stop_at = time.monotonic() + DURATION_S
    await asyncio.gather(*(_client(base, n, stop_at, results) for n in range(CLIENTS)))
    return results


def _percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    ms = [s * 1000 for s in seconds]
    return f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms"


def test_a_flood_gets_200s_and_quick_503s_and_nothing_hangs(
    small_server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    base = small_server.base_url
    assert httpx.post(f"{base}/v1/answer", json={"question": QUESTIONS[0]}, timeout=30).status_code == 200  # warm
    started = time.perf_counter()
    results = asyncio.run(_flood(base))
    elapsed = time.perf_counter() - started

    outcomes = Counter(outcome for outcome, _ in results)
    ok = [s for o, s in results if o == "200"]
    refused = [s for o, s in results if o.startswith("503")]
    after_started = time.perf_counter()
    after = httpx.post(f"{base}/v1/answer", json={"question": "EA renewal, after the flood"}, timeout=30)
    after_s = time.perf_counter() - after_started
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    with capsys.disabled():
        print(
            f"\noverload: {CLIENTS} clients for {elapsed:.1f} s against max_in_flight={MAX_IN_FLIGHT}, "
            f"max_queue_wait_ms={QUEUE_WAIT_MS}, request_timeout_ms={TIMEOUT_MS}\n"
            f"  {len(results)} requests ({len(results) / elapsed:.0f}/s): {dict(sorted(outcomes.items()))}\n"
            f"  200: {len(ok) / elapsed:.1f}/s, {_percentiles(ok)}\n"
            f"  503: {_percentiles(refused)}\n"
            f"  after the flood: {after.status_code} in {after_s * 1000:.0f} ms"
        )

    assert set(outcomes) <= {"200", "503 overloaded", "503 timeout"}, outcomes
    assert outcomes["200"] > 0 and outcomes["503 overloaded"] > 0, outcomes
    assert max(s for _, s in results) < TIMEOUT_MS / 1000 + 2  # nothing waited past the time-out
    # Refusals are quick, not queued to the time-out. The median, not a tail: the times are
    # taken by 64 httpx clients in this one process, whose own CPU use on 2 shared cores
    # adds a tail that is not the server's (p95 1.3 s once with another job running, p50 0.2 s).
    assert statistics.median(refused) < 1.0
    assert after.status_code == 200 and after_s < 2.0
    assert 'rag_refused_total{reason="overloaded"}' in metrics and "rag_work_in_flight 0.0" in metrics
