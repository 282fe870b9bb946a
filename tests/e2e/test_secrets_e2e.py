"""API keys and admin keys never show up in logs, error bodies, headers, metrics or files.

A real ``rag serve`` with API keys and admin keys and the JSON access log gets requests
with right and wrong keys in both header styles, keys in query strings, an admin key on
an API route and the other way round. Then the server's whole output (stdout and stderr:
uvicorn's lines, the access log, errors), every response (status line aside: body and
headers), ``/metrics``, the OpenAPI document and the files the server wrote are searched
for each key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.serving import Server

pytestmark = pytest.mark.e2e

API_KEY = f"rag-api-{uuid.uuid4().hex}"
OTHER_API_KEY = f"rag-api2-{uuid.uuid4().hex}"
ADMIN_KEY = f"rag-admin-{uuid.uuid4().hex}"
WRONG_KEY = f"rag-wrong-{uuid.uuid4().hex}"
SECRETS = (API_KEY, OTHER_API_KEY, ADMIN_KEY, WRONG_KEY)
QUESTION = {"question": "Who handles billing once my customer buys through a CSP partner?"}


@pytest.fixture(scope="module")
def keyed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "RAG_INDEX_DIR": str(server.folder / "index"),
        "RAG_API_KEYS": f"{API_KEY},{OTHER_API_KEY}",
        "RAG_ADMIN_KEYS": ADMIN_KEY,
        "RAG_LOG_FORMAT": "json",
    }
    started = Server(tmp_path_factory.mktemp("secrets"), env)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_never_appear_in_logs_errors_metrics_or_files(keyed: Server) -> None:
    calls: list[tuple[str, str, dict[str, str], dict[str, str] | None, int]] = [
        ("POST", "/v1/answer", bearer(API_KEY), QUESTION, 200),
        ("POST", "/v1/answer", {"X-API-Key": OTHER_API_KEY}, QUESTION, 200),
        ("POST", "/v1/search", {"authorization": f"bearer {API_KEY}"}, QUESTION, 200),
        ("POST", "/v1/answer", bearer(WRONG_KEY), QUESTION, 401),
        ("POST", "/v1/answer", {"X-API-Key": WRONG_KEY}, QUESTION, 401),
        ("POST", "/v1/answer", {"Authorization": f"Basic {API_KEY}"}, QUESTION, 401),
        ("POST", f"/v1/answer?api_key={API_KEY}", {}, QUESTION, 401),
        ("GET", f"/v1/sources?key={WRONG_KEY}&token={ADMIN_KEY}", {}, None, 401),
        ("GET", f"/v1/sources?api_key={API_KEY}", bearer(API_KEY), None, 200),
        ("GET", f"/healthz?api_key={API_KEY}", {}, None, 200),
        ("GET", f"/no/such/route?api_key={API_KEY}", bearer(API_KEY), None, 404),
        ("GET", "/v1/answer", bearer(API_KEY), None, 405),
        ("GET", "/v1/admin/reindex", bearer(ADMIN_KEY), None, 200),
        ("GET", "/v1/admin/reindex", {"X-API-Key": ADMIN_KEY}, None, 200),
        ("GET", "/v1/admin/reindex", bearer(API_KEY), None, 401),
        ("POST", "/v1/admin/reindex", {"X-API-Key": WRONG_KEY}, {"force": False}, 401),
        ("POST", "/v1/answer", bearer(ADMIN_KEY), QUESTION, 401),  # an admin key is not an API key
        ("POST", "/v1/answer", bearer(API_KEY), {"question": "renewal", "top_k": "many"}, 422),
    ]
    seen: list[str] = []
    with httpx.Client(base_url=keyed.base_url, timeout=60) as client:
        for method, path, headers, body, status in calls:
            r = client.request(method, path, headers=headers, json=body)
            assert r.status_code == status, (method, path, r.text)
            seen.append(r.text)
            seen.extend(f"{k}: {v}" for k, v in r.headers.items())
        answer = client.post("/v1/answer", json=QUESTION, headers=bearer(API_KEY)).json()
        feedback = {
            "question": QUESTION["question"], "answer": answer["answer"], "abstained": answer["abstained"],
            "citations": [], "index_version": answer["index_version"], "helpful": True, "comment": "fine",
        }
        assert client.post("/v1/feedback", json=feedback, headers={"X-API-Key": API_KEY}).status_code == 201
        seen.append(client.get("/metrics").text)
        seen.append(client.get("/schema/openapi.json").text)

    log = _log_with_access_lines(keyed, expected=len(calls) + 1)
    written = [p.read_bytes().decode("utf-8", errors="replace") for p in keyed.folder.rglob("*") if p.is_file()]
    for secret in SECRETS:
        assert secret not in log, f"{secret[:12]}... in the server log"
        for text in seen:
            assert secret not in text, f"{secret[:12]}... in a response: {text[:200]}"
        for text in written:  # the feedback database, the log files
            assert secret not in text, f"{secret[:12]}... in a file the server wrote"


def _log_with_access_lines(server: Server, expected: int) -> str:
    """The server's output once its access lines are all there (a control: the right log is searched)."""
    deadline = time.monotonic() + 10
    while True:
        log = server.log()
        access = [json.loads(line) for line in log.splitlines() if '"logger": "rag.api.access"' in line]
        if len(access) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(access) >= expected, log[-3000:]
    assert {401, 404, 405, 422} <= {line["status"] for line in access}
    assert any(line["path"] == "/v1/sources" for line in access)  # the path is logged, its query string is not
    return log
