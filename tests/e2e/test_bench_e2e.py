"""The benchmark's soak against a real ``rag serve``: both phases load the server and sample its memory."""

from __future__ import annotations

import asyncio
import itertools

from bench.http_load import soak
from bench.questions import unique_questions
from bench.report import render, targets
from tests.e2e.serving import Server


def test_soak_warms_up_then_measures_growth_on_its_own_window(server: Server) -> None:
    assert server.process is not None
    seen: list[tuple[str, float, float]] = []
    result = asyncio.run(
        soak(server.base_url, unique_questions(itertools.count(10**6)), server_pid=server.process.pid,
             seconds=1.5, warmup_seconds=1.0, clients=2, sample_every_s=0.5,
             on_sample=lambda phase, t, rss: seen.append((phase, t, rss)))
    )
    warm = result["warmup"]
    assert isinstance(warm, dict)
    for phase in (warm, result):
        load = phase["load"]
        assert load["ok"] > 0 and load["errors"] == 0 and load["cache_hits"] == 0  # unique: every one a miss
        samples = phase["rss_samples_mib"]
        assert samples[0][0] == 0.0 and len(samples) >= 3 and all(mib > 50 for _, mib in samples)
        assert phase["rss_growth_mib"] == round(phase["rss_last_mib"] - phase["rss_first_mib"], 1)
    assert {p for p, _, _ in seen} == {"warm-up", "soak"} and seen[0][0] == "warm-up" and seen[-1][0] == "soak"

    results = {"memory": {"rss_start_mib": 300.0, "soak": result}, "http": {}}
    growth = next(t for t in targets(results) if t.name.startswith("server RSS growth"))
    assert growth.value == result["rss_growth_mib"]
    text = render(results)
    assert "warm-up 1 s, 2 clients" in text and "soak 2 s, 2 clients" in text
