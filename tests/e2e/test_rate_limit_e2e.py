"""The shipped rate-limit defaults over a real socket: one local app asking quickly is never refused.

An app on the same machine calling ``/v1/answer`` back to back (or ``rag eval --api``)
must get every answer: the old default (120 a minute per address) answered 429 from
the 121st request on, while the server itself answers about 200 new questions a second.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from tests.e2e.serving import Server

pytestmark = pytest.mark.e2e

REQUESTS = 300
QUESTIONS = [
    "Who handles billing questions once my customer buys through a CSP partner?",
    "renewal of an EA coming up",
    "customer wants to swap their CSP partner for another one",
    "new workload the current partner cannot support",
]


def test_300_quick_answers_from_one_client_on_the_defaults_are_all_200(server: Server) -> None:
    assert not any(name.startswith("RAG_RATE_LIMIT") for name in server.env), "the server must run on the defaults"
    statuses: Counter[int] = Counter()
    refused: list[str] = []
    started = time.monotonic()
    with httpx.Client(base_url=server.base_url, timeout=60) as client:  # one client, one address, keep-alive
        for n in range(REQUESTS):
            question = f"{QUESTIONS[n % len(QUESTIONS)]} (case {n})"  # new questions: no answer is cached
            r = client.post("/v1/answer", json={"question": question})
            statuses[r.status_code] += 1
            if r.status_code != 200 and len(refused) < 3:
                refused.append(f"#{n} {r.status_code} {r.text[:300]}")
    elapsed = time.monotonic() - started
    print(f"\n{REQUESTS} answers from one client in {elapsed:.2f} s ({REQUESTS / elapsed:.0f}/s): {dict(statuses)}")
    assert statuses == Counter({200: REQUESTS}), (dict(statuses), refused)
    assert elapsed < 60, "not quick: a limit of 300 a minute would have let these through"
