"""Zero-downtime reindex: a real server under concurrent load rebuilds and swaps its
index (through the admin endpoint, then through --watch) with no failed request."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.serving import ROOT, Server

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer admin-e2e"}
QUESTIONS = [
    "Who handles billing questions once my customer buys through a CSP partner?",
    "renewal of an EA coming up",
    "customer wants to swap their CSP partner for another one",
    "What is today's stock price?",
]
NEW_FILE = "# Invoice guide\n\nThe partner sends the customer a consolidated invoice every month.\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("reindex")
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    srv = Server(folder, {"RAG_CORPUS_DIR": str(corpus), "RAG_ADMIN_KEYS": "admin-e2e", "RAG_WATCH_SECONDS": "1"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _load(base: str, stop: threading.Event, outcomes: Counter[str], versions: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        i = 0
        while not stop.is_set() and i < 5000:
            r = client.post("/v1/answer", json={"question": f"{QUESTIONS[i % len(QUESTIONS)]} ({i})"})
            if r.status_code == 200:
                outcomes["200"] += 1
                versions.append(r.json()["index_version"])
            else:  # which error, and when: a refusal must say why to be fixed
                outcomes[f"{r.status_code} {r.json().get('error', {}).get('code')} at {time.strftime('%X')}"] += 1
            i += 1


def _under_load(server: Server, action) -> tuple[Counter[str], list[str], object]:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    outcomes: Counter[str] = Counter()
    versions: list[str] = []
    threads = [threading.Thread(target=_load, args=(server.base_url, stop, outcomes, versions)) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        result = action()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    return outcomes, versions, result


def _wait_reindexed(server: Server, before: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.base_url}/v1/admin/reindex", headers=ADMIN, timeout=10).json()
        if status["serving_index_version"] != before and status["state"] != "running":
            return status  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"index not swapped: {status}\n{server.log()[-3000:]}")


def test_admin_reindex_under_load_fails_no_request(server: Server) -> None:
    before = httpx.get(f"{server.base_url}/readyz", timeout=10).json()["index_version"]
    corpus = Path(server.env["RAG_CORPUS_DIR"])

    def reindex() -> dict:  # type: ignore[type-arg]
        (corpus / "invoices.md").write_text(NEW_FILE)
        r = httpx.post(f"{server.base_url}/v1/admin/reindex", headers=ADMIN, json={}, timeout=10)
        assert r.status_code in (202, 409), r.text  # 409: the watcher got there first
        return _wait_reindexed(server, before)

    outcomes, versions, status = _under_load(server, reindex)
    print(f"reindex under load: {dict(outcomes)} responses, swap took {status['seconds']} s")  # type: ignore[index]
    assert set(outcomes) == {"200"}, f"{dict(outcomes)}\n{server.log()[-3000:]}"
    after = status["serving_index_version"]  # type: ignore[index]
    assert after != before and before in versions and after in versions
    assert versions.index(after) > versions.index(before)
    answer = httpx.post(f"{server.base_url}/v1/answer",
                        json={"question": "how often does the partner send the invoice?"}, timeout=30).json()
    assert answer["citations"][0]["source"] == "invoices.md"


def test_watch_picks_up_a_removed_file(server: Server) -> None:
    before = httpx.get(f"{server.base_url}/readyz", timeout=10).json()["index_version"]
    corpus = Path(server.env["RAG_CORPUS_DIR"])

    def remove() -> dict:  # type: ignore[type-arg]
        (corpus / "invoices.md").unlink()
        return _wait_reindexed(server, before)

    outcomes, _versions, status = _under_load(server, remove)
    assert set(outcomes) == {"200"}, f"{dict(outcomes)}\n{server.log()[-3000:]}"
    assert status["state"] == "succeeded"  # type: ignore[index]
    sources = httpx.get(f"{server.base_url}/v1/sources", timeout=10).json()["sources"]
    assert [s["source"] for s in sources] == ["csp-for-sellers.md"]
