"""Two real ``rag serve`` replicas on one real PostgreSQL with pgvector (``RAG_STORE``).

A reindex through one replica is served by both; feedback sent to both is all in the
database; a replica SIGKILLed right after acknowledging feedback has lost none of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.serving import ROOT, Server

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer admin-pg"}
NEW_FILE = "# Invoice guide\n\nThe partner sends the customer a consolidated invoice every month.\n"
SWITCH_TIMEOUT_S = 60.0


class Replicas:
    def __init__(self, a: Server, b: Server, url: str, corpus: Path) -> None:
        self.a, self.b, self.url, self.corpus = a, b, url, corpus

    def feedback_questions(self) -> list[str]:
        import psycopg

        with psycopg.connect(self.url) as conn:
            return [r[0] for r in conn.execute("SELECT question FROM rag_feedback ORDER BY id")]


@pytest.fixture(scope="module")
def replicas(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    folder = tmp_path_factory.mktemp("replicas")
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    with pg_server.fresh() as url:
        env = {
            "RAG_STORE": url,
            "RAG_CORPUS_DIR": str(corpus),
            "RAG_INDEX_DIR": str(folder / "models"),  # only the ONNX export lives here: shared, like an image
            "RAG_ADMIN_KEYS": "admin-pg",
            "RAG_STORE_POLL_SECONDS": "0.5",
        }
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        a = Server(folder / "a", env)
        b = Server(folder / "b", env)
        try:
            a.start()  # builds the first version into the database
            b.start()  # finds it there
            yield Replicas(a, b, url, corpus)
        finally:
            a.stop()
            b.stop()


def _version(server: Server) -> str:
    r = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["index_version"])


def test_a_reindex_through_one_replica_is_served_by_both(replicas: Replicas) -> None:
    before = _version(replicas.a)
    assert _version(replicas.b) == before
    assert "building a new index" not in replicas.b.log()  # the second replica built nothing
    (replicas.corpus / "invoices.md").write_text(NEW_FILE, encoding="utf-8")
    r = httpx.post(f"{replicas.a.base_url}/v1/admin/reindex", headers=ADMIN, json={}, timeout=10)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + SWITCH_TIMEOUT_S
    while time.monotonic() < deadline:
        status = httpx.get(f"{replicas.a.base_url}/v1/admin/reindex", headers=ADMIN, timeout=10).json()
        if status["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.25)
    assert status["state"] == "succeeded", status
    after = _version(replicas.a)
    assert after != before
    while time.monotonic() < deadline and _version(replicas.b) != after:
        time.sleep(0.25)
    assert _version(replicas.b) == after  # B switched without being told
    answer = httpx.post(f"{replicas.b.base_url}/v1/answer", timeout=30,
                        json={"question": "does the partner send a consolidated invoice every month?"}).json()
    assert answer["index_version"] == after
    assert any(c["source"] == "invoices.md" for c in answer["citations"]), answer


def _feedback(base_url: str, question: str) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/feedback", timeout=30, json={
        "question": question, "answer": "…", "abstained": False, "citations": [],
        "index_version": "e2e", "helpful": True})


def test_feedback_sent_to_both_replicas_is_all_in_the_database(replicas: Replicas) -> None:
    sent = [(server, f"both-{name}-{i}") for i in range(15) for name, server in (("a", replicas.a), ("b", replicas.b))]
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda job: _feedback(job[0].base_url, job[1]).status_code, sent))
    assert statuses == [201] * len(sent)
    stored = replicas.feedback_questions()
    assert sorted(q for q in stored if q.startswith("both-")) == sorted(q for _, q in sent)
    assert not (Path(replicas.a.folder) / "data").exists()  # nothing in a replica's own SQLite


def test_killing_a_replica_loses_nothing_it_acknowledged(replicas: Replicas) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(tag: str) -> None:
        with httpx.Client(base_url=replicas.b.base_url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                question = f"kill-{tag}-{i}"
                try:
                    r = client.post("/v1/feedback", json={"question": question, "answer": "…", "abstained": False,
                                                          "citations": [], "index_version": "e2e", "helpful": False})
                except httpx.TransportError:
                    return  # the replica is gone: this one was never acknowledged
                if r.status_code == 201:
                    acknowledged.append(question)
                i += 1

    threads = [threading.Thread(target=writer, args=(str(n),)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    process = replicas.b.process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)  # mid-stream: requests are in flight
    stop.set()
    for t in threads:
        t.join(15)
    process.wait(10)
    assert len(acknowledged) >= 40
    stored = set(replicas.feedback_questions())
    assert [q for q in acknowledged if q not in stored] == []
    assert _version(replicas.a)  # the other replica serves on
