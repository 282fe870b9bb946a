"""Background loading: /healthz at once, /readyz and /v1 503 until the pipeline is there."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import httpx
import pytest
from litestar.testing import TestClient

from api.app import create_app
from rag.config import ServerConfig, Settings
from rag.errors import IndexMismatchError

SETTINGS = replace(Settings(), server=replace(ServerConfig(), rate_limit_per_minute=0))


def wait_until_ready(client, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get("/readyz")
        if r.status_code != 503 or r.json()["error"]["code"] != "not_ready":
            return r
        time.sleep(0.02)
    raise AssertionError("not ready in time")


def test_not_ready_while_loading_then_ready(pipeline):
    release = threading.Event()
    seen: list[Settings] = []

    def slow_loader(settings):
        seen.append(settings)
        assert release.wait(10)
        return pipeline

    with TestClient(create_app(SETTINGS, loader=slow_loader)) as client:
        # the event loop is free while the loader blocks its worker thread
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "not_ready"
        assert r.headers["retry-after"] == "5"
        r = client.post("/v1/answer", json={"question": "renewal"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert "rag_ready 0.0" in client.get("/metrics").text

        release.set()
        assert wait_until_ready(client).status_code == 200
        assert client.post("/v1/answer", json={"question": "renewal"}).status_code == 200
        assert "rag_ready 1.0" in client.get("/metrics").text
    assert seen == [SETTINGS]


class NoManifest:
    @property
    def manifest(self):
        raise OSError("manifest.json vanished")


@pytest.mark.parametrize("exc", [IndexMismatchError("built from another corpus: run `rag index`"), OSError("disk")])
def test_a_failed_load_keeps_serving_and_says_so(exc, caplog):
    def failing_loader(settings):
        raise exc

    with (
        caplog.at_level("ERROR", logger="rag.api"),
        TestClient(create_app(SETTINGS, loader=failing_loader)) as client,
    ):
        r = wait_until_ready(client)
        assert r.status_code == 503
        error = r.json()["error"]
        assert error["code"] == "index_unavailable"
        assert type(exc).__name__ in error["message"]
        assert str(exc) not in r.text
        assert client.get("/v1/sources").status_code == 503
        assert client.get("/healthz").status_code == 200
    assert any(str(exc) in rec.getMessage() or rec.exc_info for rec in caplog.records)


def test_a_given_pipeline_is_ready_at_once_and_nothing_is_loaded(pipeline):
    def loader(settings):
        raise AssertionError("must not load")

    with TestClient(create_app(SETTINGS, pipeline, loader=loader)) as client:
        assert client.get("/readyz").status_code == 200


def test_pipeline_calls_run_off_the_event_loop(pipeline):
    """While one answer blocks inside the pipeline, other requests are still served."""
    entered, release = threading.Event(), threading.Event()
    real_answer = pipeline.answer

    def blocking_answer(question, top_k=None, history=()):
        entered.set()
        assert release.wait(10)
        return real_answer(question, top_k, history)

    pipeline.answer = blocking_answer

    async def scenario() -> None:
        # httpx's ASGI transport runs the app on this loop (Litestar's AsyncTestClient
        # would serialise requests through a blocking portal); a pipeline is given, so
        # the app needs no lifespan.
        transport = httpx.ASGITransport(app=create_app(SETTINGS, pipeline))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            slow = asyncio.create_task(client.post("/v1/answer", json={"question": "renewal"}))
            for _ in range(500):  # bounded: a pipeline call that fails never enters
                if entered.is_set():
                    break
                await asyncio.sleep(0.01)
            assert entered.is_set(), "the answer never reached the pipeline"
            fast = await asyncio.wait_for(client.post("/v1/search", json={"question": "renewal"}), 5)
            assert fast.status_code == 200
            assert (await asyncio.wait_for(client.get("/healthz"), 5)).status_code == 200
            release.set()
            assert (await asyncio.wait_for(slow, 5)).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        release.set()


def test_the_factory_reads_settings_from_the_environment(monkeypatch):
    from api.context import context_of

    monkeypatch.setenv("RAG_API_KEYS", "env-key")
    monkeypatch.setenv("RAG_RATE_LIMIT_PER_MINUTE", "0")
    context = context_of(create_app().state)  # no lifespan: nothing is loaded
    assert context.keys.enabled
    assert context.limiter is None
    assert context.settings.server.api_keys == ("env-key",)


def test_a_pipeline_whose_manifest_fails_is_a_failed_load_not_a_crash():
    with TestClient(create_app(SETTINGS, loader=lambda _: NoManifest())) as client:
        r = wait_until_ready(client)
        assert r.status_code == 503
        assert "OSError" in r.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200
