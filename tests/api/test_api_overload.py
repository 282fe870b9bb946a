"""Bounded work: past ``max_in_flight`` calls a quick 503 ``overloaded``; a slow call a 503 ``timeout``.

The pipeline is the fake of ``conftest.py`` made slow on demand: ``answer`` blocks until
the test releases it. Requests go through httpx's ASGI transport on one event loop, so
several can be in flight at once (Litestar's TestClient serialises them).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from api.app import create_app
from api.overload import _Place
from rag.feedback import FeedbackStore
from tests.api.conftest import FakePipeline, make_settings
from tests.api.test_api_errors import assert_error

QUESTION = {"question": "renewal"}


class SlowPipeline(FakePipeline):
    """``answer`` blocks until ``release`` is set; ``running`` counts calls inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def answer(self, question: str, top_k: int | None = None, history: Any = ()) -> Any:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            assert self.release.wait(10), "the test never released the pipeline"
            return super().answer(question, top_k, history)
        finally:
            with self._lock:
                self.running -= 1


def run(pipeline: SlowPipeline, scenario: Callable[[httpx.AsyncClient], Awaitable[None]], **server: Any) -> None:
    """Run ``scenario`` against a fresh app (no lifespan: the gate needs none, feedback opens on first use)."""
    app = create_app(make_settings(**server), pipeline)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=10) as client:
            await scenario(client)

    try:
        asyncio.run(main())
    finally:
        pipeline.release.set()


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_beyond_max_in_flight_the_answer_is_a_quick_503_with_retry_after() -> None:
    pipeline = SlowPipeline()

    async def scenario(client: httpx.AsyncClient) -> None:
        busy = [asyncio.create_task(client.post("/v1/answer", json=QUESTION)) for _ in range(2)]
        await until(lambda: pipeline.running == 2)
        started = time.perf_counter()
        refused = await client.post("/v1/answer", json=QUESTION)
        assert time.perf_counter() - started < 1.0
        error = assert_error(refused, 503, "overloaded")
        assert "2 requests in progress" in error["message"]
        assert refused.headers["retry-after"] == "1"
        assert_error(await client.post("/v1/search", json=QUESTION), 503, "overloaded")  # search shares the places
        assert_error(await client.get("/v1/sources"), 503, "overloaded")
        metrics = (await client.get("/metrics")).text  # operator routes are not gated
        assert 'rag_refused_total{reason="overloaded"} 3.0' in metrics
        assert "rag_work_in_flight 2.0" in metrics

        pipeline.release.set()
        assert [r.status_code for r in await asyncio.gather(*busy)] == [200, 200]
        assert (await client.post("/v1/answer", json=QUESTION)).status_code == 200
        assert "rag_work_in_flight 0.0" in (await client.get("/metrics")).text

    run(pipeline, scenario, max_in_flight=2, max_queue_wait_ms=0)
    assert pipeline.most_running == 2


def test_a_request_waits_for_a_place_up_to_max_queue_wait() -> None:
    pipeline = SlowPipeline()

    async def scenario(client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(client.post("/v1/answer", json=QUESTION))
        await until(lambda: pipeline.running == 1)
        queued = asyncio.create_task(client.post("/v1/answer", json=QUESTION))
        await asyncio.sleep(0.2)  # waiting for the place, well within the 5 s allowed
        assert not queued.done()
        pipeline.release.set()
        assert (await first).status_code == 200
        assert (await queued).status_code == 200

    run(pipeline, scenario, max_in_flight=1, max_queue_wait_ms=5000)


def test_a_slow_call_is_a_503_timeout_and_keeps_its_place_until_it_ends() -> None:
    pipeline = SlowPipeline()

    async def scenario(client: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        slow = await client.post("/v1/answer", json=QUESTION)
        assert 0.2 <= time.perf_counter() - started < 2.0
        error = assert_error(slow, 503, "timeout")
        assert "0.2 s" in error["message"] and slow.headers["retry-after"] == "1"
        # The thread still runs (it cannot be interrupted) and still holds the only place.
        assert pipeline.running == 1
        assert_error(await client.post("/v1/answer", json=QUESTION), 503, "overloaded")
        pipeline.release.set()
        await until(lambda: pipeline.running == 0)
        for _ in range(100):  # the place comes back once the thread has ended
            r = await client.post("/v1/search", json=QUESTION)
            if r.status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert r.status_code == 200
        assert 'rag_refused_total{reason="timeout"} 1.0' in (await client.get("/metrics")).text

    run(pipeline, scenario, max_in_flight=1, max_queue_wait_ms=0, request_timeout_ms=200)


FEEDBACK = {
    "question": "renewal",
    "answer": "Work with the partner [1].",
    "abstained": False,
    "citations": [],
    "index_version": "test-index-1",
    "helpful": True,
}


def test_feedback_writes_share_the_places() -> None:
    """(``data/`` lands in the temporary folder the api conftest changes into.)"""
    pipeline = SlowPipeline()
    feedback = FEEDBACK

    async def scenario(client: httpx.AsyncClient) -> None:
        busy = asyncio.create_task(client.post("/v1/answer", json=QUESTION))
        await until(lambda: pipeline.running == 1)
        assert_error(await client.post("/v1/feedback", json=feedback), 503, "overloaded")
        pipeline.release.set()
        assert (await busy).status_code == 200
        assert (await client.post("/v1/feedback", json=feedback)).status_code == 201

    run(pipeline, scenario, max_in_flight=1, max_queue_wait_ms=0)


def test_a_slow_feedback_write_is_not_timed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 503 would invite a retry, and a duplicate record: the write is waited for."""
    real_add = FeedbackStore.add

    def slow_add(self: FeedbackStore, fb: Any) -> Any:
        time.sleep(0.5)
        return real_add(self, fb)

    monkeypatch.setattr(FeedbackStore, "add", slow_add)

    async def scenario(client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/feedback", json=FEEDBACK)).status_code == 201

    run(SlowPipeline(), scenario, request_timeout_ms=100)


def test_a_place_is_given_back_once_by_the_thread_when_the_caller_left_first() -> None:
    given_back: list[str] = []

    async def main() -> None:
        place = _Place(lambda: given_back.append(threading.current_thread().name))
        entered, go = threading.Event(), threading.Event()

        def work() -> None:
            assert place.thread_starts()
            entered.set()
            assert go.wait(5)
            place.thread_ends()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, work)
            await anyio.to_thread.run_sync(entered.wait)
            place.caller_leaves()  # timed out while the thread runs
            assert given_back == []
            go.set()
        place.caller_leaves()  # a second call changes nothing

    anyio.run(main)
    assert given_back == [threading.main_thread().name]  # given back on the event loop


def test_a_place_is_given_back_once_by_the_caller_when_the_thread_ended_first() -> None:
    given_back: list[int] = []
    place = _Place(lambda: given_back.append(1))
    assert place.thread_starts()
    place.thread_ends()
    assert given_back == []
    place.caller_leaves()
    assert given_back == [1]


def test_a_call_whose_caller_left_before_it_started_never_runs() -> None:
    given_back: list[int] = []
    place = _Place(lambda: given_back.append(1))
    place.caller_leaves()
    assert given_back == [1]
    assert place.thread_starts() is False
