"""Load a running server with concurrent clients and report latency percentiles.

    python bench/load.py http://127.0.0.1:8000 --clients 16 --duration 30 --requests 2000

Stops at whichever of ``--duration`` seconds or ``--requests`` requests comes first.
Prints p50/p95/p99 latency, requests per second and the error count; exits 1 when
any request failed (a non-2xx status or a transport error), 2 on bad arguments.
Only loopback URLs are accepted: this is a local benchmark, not a load generator
for other people's machines.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from eval.stats import percentile

QUESTIONS = (
    "A partner is pitching a new CSP deal to an EA customer. What should I do?",
    "How do I upsell into a customer who bought through CSP?",
    "The current partner cannot support a new workload. What now?",
    "The customer's EA renewal is coming up. How do I handle it?",
    "Who supports a customer that moved from EA to CSP?",
    "The customer wants to change CSP partner.",
    "The customer wants to move from CSP back to an EA.",
    "What is the weather like on Mars?",
)


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def client_loop(
    client: httpx.AsyncClient,
    path: str,
    questions: itertools.cycle[str],
    deadline: float,
    budget: list[int],
    results: Results,
) -> None:
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1  # single-threaded event loop: no lock needed
        results.sent += 1
        started = time.perf_counter()
        try:
            r = await client.post(path, json={"question": next(questions)})
        except httpx.HTTPError as exc:
            results.errors[type(exc).__name__] += 1
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        if r.is_success:
            results.latencies_ms.append(elapsed_ms)
        else:
            results.errors[f"HTTP {r.status_code}"] += 1


async def run(args: argparse.Namespace) -> tuple[Results, float]:
    """Send the load; returns the results and the seconds it took (readiness check excluded)."""
    headers = {"authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    results = Results()
    budget = [args.requests]
    questions = itertools.cycle(QUESTIONS)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, limits=limits, timeout=args.timeout) as client:
        health = await client.get("/readyz")
        if health.status_code != 200:
            raise SystemExit(f"{args.url}/readyz answered {health.status_code}: is the server ready?")
        started = time.perf_counter()
        deadline = started + args.duration
        await asyncio.gather(
            *(
                client_loop(client, f"/v1/{args.endpoint}", questions, deadline, budget, results)
                for _ in range(args.clients)
            )
        )
        seconds = time.perf_counter() - started
    return results, seconds


def report(results: Results, seconds: float) -> str:
    lat = sorted(results.latencies_ms)
    lines = [
        f"requests: {results.sent} in {seconds:.1f} s ({results.sent / seconds:.1f} req/s)",
        f"ok: {len(lat)}  errors: {sum(results.errors.values())}"
        + (f"  ({', '.join(f'{k}: {v}' for k, v in results.errors.most_common())})" if results.errors else ""),
    ]
    if lat:
        lines.append(
            f"latency ms: p50 {percentile(lat, 50):.1f}  p95 {percentile(lat, 95):.1f}  "
            f"p99 {percentile(lat, 99):.1f}  mean {statistics.fmean(lat):.1f}  max {lat[-1]:.1f}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", nargs="?", default="http://127.0.0.1:8000", help="server base URL (loopback only)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds to run at most (default 30)")
    p.add_argument("--requests", type=int, default=2000, help="requests to send at most (default 2000)")
    p.add_argument("--endpoint", choices=("answer", "search"), default="answer")
    p.add_argument("--api-key", default=None, help="sent as Authorization: Bearer <key>")
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    args = p.parse_args(argv)
    if not is_loopback_url(args.url):
        p.error(f"{args.url} is not a loopback URL (127.0.0.0/8, ::1 or localhost)")
    if args.clients < 1 or args.requests < 1 or args.duration <= 0:
        p.error("--clients, --requests and --duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results, seconds = asyncio.run(run(args))
    print(report(results, seconds))
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
