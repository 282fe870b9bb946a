"""``/v1/admin/reindex``: admin keys, background rebuild, atomic swap, failure keeps serving."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from litestar.testing import TestClient

from api.app import create_app
from rag.errors import CorpusError
from tests.api.conftest import MANIFEST, FakePipeline, make_settings

ADMIN = {"Authorization": "Bearer admin-secret"}


class NextPipeline(FakePipeline):
    def __init__(self, version: str) -> None:
        super().__init__()
        self.manifest = replace(MANIFEST, index_version=version)


def _client(rebuild: Any, **server: Any) -> TestClient:  # type: ignore[type-arg]
    server.setdefault("admin_keys", ("admin-secret",))
    app = create_app(make_settings(**server), FakePipeline(), rebuild=rebuild)
    return TestClient(app, raise_server_exceptions=False)


def _wait_done(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    for _ in range(200):
        status = client.get("/v1/admin/reindex", headers=ADMIN).json()
        if status["state"] != "running":
            return status  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError("reindex did not finish")


def test_refused_without_admin_keys_and_with_wrong_key() -> None:
    with _client(lambda *_: NextPipeline("v2"), admin_keys=()) as client:
        r = client.post("/v1/admin/reindex", headers=ADMIN)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert "RAG_ADMIN_KEYS" in r.json()["error"]["message"]
    with _client(lambda *_: NextPipeline("v2")) as client:
        assert client.post("/v1/admin/reindex").status_code == 401
        assert client.post("/v1/admin/reindex", headers={"X-API-Key": "nope"}).status_code == 401


def test_reindex_swaps_and_answers_carry_the_new_version() -> None:
    calls: list[bool] = []

    def rebuild(settings, current, force):  # type: ignore[no-untyped-def]
        calls.append(force)
        return NextPipeline("v2")

    with _client(rebuild) as client:
        before = client.post("/v1/answer", json={"question": "renewal"}).json()["index_version"]
        r = client.post("/v1/admin/reindex", headers=ADMIN, json={"force": True})
        assert r.status_code == 202 and r.json()["state"] == "running"
        status = _wait_done(client)
        assert status["state"] == "succeeded" and status["index_version_after"] == "v2"
        assert status["index_version_before"] == before == MANIFEST.index_version
        assert client.post("/v1/answer", json={"question": "renewal"}).json()["index_version"] == "v2"
        assert client.get("/readyz").json()["index_version"] == "v2"
        assert 'index_version="v2"' in client.get("/metrics").text
        assert calls == [True]


def test_failed_rebuild_keeps_the_old_index_serving() -> None:
    def rebuild(*_: Any) -> FakePipeline:
        raise CorpusError("corpus folder gone")

    with _client(rebuild) as client:
        assert client.post("/v1/admin/reindex", headers=ADMIN).status_code == 202
        status = _wait_done(client)
        assert status["state"] == "failed" and "corpus folder gone" in status["error"]
        assert status["serving_index_version"] == MANIFEST.index_version
        r = client.post("/v1/answer", json={"question": "renewal"})
        assert r.status_code == 200 and r.json()["index_version"] == MANIFEST.index_version


def test_one_reindex_at_a_time_and_bad_body() -> None:
    release = threading.Event()

    def rebuild(*_: Any) -> FakePipeline:
        release.wait(5)
        return NextPipeline("v3")

    with _client(rebuild) as client:
        assert client.post("/v1/admin/reindex", headers=ADMIN).status_code == 202
        second = client.post("/v1/admin/reindex", headers=ADMIN)
        assert second.status_code == 409 and second.json()["error"]["code"] == "reindex_running"
        release.set()
        assert _wait_done(client)["state"] == "succeeded"
        bad = client.post("/v1/admin/reindex", headers=ADMIN, json={"force": "yes"})
        assert bad.status_code == 422 and set(bad.json()["error"]) == {"status", "code", "message", "request_id"}


def test_options_names_every_method_of_the_path() -> None:
    """Litestar 2's own OPTIONS answer would name only POST (litestar#4169)."""
    with _client(lambda *_: NextPipeline("v2")) as client:
        r = client.options("/v1/admin/reindex", headers=ADMIN)
        assert r.status_code == 204 and r.headers["allow"] == "GET, OPTIONS, POST"
        assert client.options("/v1/admin/reindex").status_code == 401  # still behind the admin key
