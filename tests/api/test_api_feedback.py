"""POST /v1/feedback: stored durably in SQLite, validated like every other body."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app
from rag.config import ServerConfig, Settings
from rag.feedback import FEEDBACK_DB, FeedbackStore

ERROR_KEYS = {"status", "code", "message", "request_id"}
KEY = "feedback-key-0123456789"

FeedbackClient = Callable[..., TestClient[Litestar]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_feedback_client(pipeline, data_dir: Path) -> Iterator[FeedbackClient]:
    """``make(**server_fields)``: a started client whose data folder is a temporary one."""
    clients: list[TestClient[Litestar]] = []

    def make(data: Path | None = None, **server: Any) -> TestClient[Litestar]:
        server.setdefault("rate_limit_per_minute", 0)
        settings = replace(Settings(), data_dir=data or data_dir, server=replace(ServerConfig(), **server))
        client = TestClient(create_app(settings, pipeline), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_feedback_client: FeedbackClient) -> TestClient[Litestar]:
    return make_feedback_client()


def rows(data_dir: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(data_dir / FEEDBACK_DB) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]


def valid_body(client: TestClient[Litestar], headers: dict[str, str] | None = None, **changes: Any) -> dict[str, Any]:
    """Feedback on a real answer of the app, citations echoed exactly as received.

    A change to ``...`` drops that field.
    """
    question = {"question": "customer has an upcoming EA renewal"}
    answer = client.post("/v1/answer", json=question, headers=headers).json()
    body = {
        "question": "customer has an upcoming EA renewal",
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "citations": answer["citations"],
        "index_version": answer["index_version"],
        "helpful": False,
        "comment": "Cites the right slide but misses the renewal date.",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def assert_error(r, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_feedback_is_stored_and_answered_with_its_id(client, data_dir):
    body = valid_body(client)
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert set(saved) == {"id", "created_at"}
    assert saved["id"] == 1 and saved["created_at"]
    [row] = rows(data_dir)
    assert row["id"] == 1
    assert row["created_at"] == saved["created_at"]
    assert row["helpful"] == 0 and row["abstained"] == 0
    assert row["question"] == body["question"]
    assert row["answer"] == body["answer"] and "[1]" in row["answer"]
    assert row["comment"] == body["comment"]
    assert row["index_version"] == "test-index-1"
    stored_citations = json.loads(row["citations"])
    assert stored_citations == body["citations"]
    assert stored_citations[0]["slide"] == 8


def test_the_store_reads_back_what_the_api_wrote(client, data_dir):
    client.post("/v1/feedback", json=valid_body(client, helpful=True, comment=...))
    client.post("/v1/feedback", json=valid_body(client, comment="   "))
    records = list(FeedbackStore(data_dir / FEEDBACK_DB).all())
    assert [(r.id, r.helpful, r.comment) for r in records] == [(1, True, None), (2, False, None)]


def test_an_abstention_can_be_rated_too(client, data_dir):
    answer = client.post("/v1/answer", json={"question": "weather tomorrow?"}).json()
    assert answer["abstained"] is True
    body = {
        "question": "weather tomorrow?",
        "answer": answer["answer"],
        "abstained": True,
        "citations": [],
        "index_version": answer["index_version"],
        "helpful": True,
    }
    assert client.post("/v1/feedback", json=body).status_code == 201
    [row] = rows(data_dir)
    assert row["abstained"] == 1 and row["citations"] == "[]" and row["comment"] is None


def test_the_page_shape_of_citations_is_accepted(client):
    """Only ``n`` and ``source`` are required; the rest may be absent or null where nullable."""
    minimal = {"n": 1, "source": "csp-for-sellers.md"}
    nulls = {**minimal, "slide": None, "page": None, "section": None, "score": None}
    body = valid_body(client, citations=[minimal, nulls])
    assert client.post("/v1/feedback", json=body).status_code == 201


def test_sqlite_runs_in_a_worker_thread(client, monkeypatch):
    threads: list[str] = []
    original = FeedbackStore.add

    def recording_add(self, fb):
        threads.append(threading.current_thread().name)
        return original(self, fb)

    monkeypatch.setattr(FeedbackStore, "add", recording_add)
    assert client.post("/v1/feedback", json=valid_body(client)).status_code == 201
    assert threads == ["AnyIO worker thread"]


MISSING = [
    "question",
    "answer",
    "abstained",
    "citations",
    "index_version",
    "helpful",
]


@pytest.mark.parametrize("field", MISSING)
def test_a_missing_required_field_is_a_422(client, data_dir, field):
    error = assert_error(client.post("/v1/feedback", json=valid_body(client, **{field: ...})), 422)
    assert field in error["message"]
    assert rows(data_dir) == []


WRONG = {
    "helpful as yes": {"helpful": "yes"},
    "helpful as 1": {"helpful": 1},
    "helpful as null": {"helpful": None},
    "abstained as string": {"abstained": "false"},
    "question as number": {"question": 5},
    "answer as list": {"answer": ["a"]},
    "citations as object": {"citations": {"n": 1}},
    "citation n as string": {"citations": [{"n": "1", "source": "csp-for-sellers.md"}]},
    "citation slide as fraction": {"citations": [{"n": 1, "source": "csp-for-sellers.md", "slide": 9.5}]},
    "negative citation slide": {"citations": [{"n": 1, "source": "csp-for-sellers.md", "slide": -1}]},
    "citation without source": {"citations": [{"n": 1}]},
    "comment as number": {"comment": 3},
    "comment too long": {"comment": "x" * 2001},
    "empty index version": {"index_version": ""},
    "index version too long": {"index_version": "v" * 201},
    "too many citations": {"citations": [{"n": 1, "source": "a.md"}] * 51},
    "quote too long": {"citations": [{"n": 1, "source": "a.md", "quote": "q" * 4001}]},
    "answer too long": {"answer": "a" * 20_001},
    "unknown field": {"rating": 5},
    "unknown citation field": {"citations": [{"n": 1, "source": "a.md", "extra": True}]},
}


@pytest.mark.parametrize("changes", WRONG.values(), ids=WRONG.keys())
def test_malformed_feedback_is_a_422(client, data_dir, changes):
    assert_error(client.post("/v1/feedback", json=valid_body(client, **changes)), 422)
    assert rows(data_dir) == []


@pytest.mark.parametrize("question", ["", "   \n", "q" * 2001], ids=["empty", "blank", "too-long"])
def test_the_question_follows_the_question_rules(client, question):
    assert_error(client.post("/v1/feedback", json=valid_body(client, question=question)), 422)


def test_a_comment_of_exactly_2000_characters_is_accepted(client, data_dir):
    r = client.post("/v1/feedback", json=valid_body(client, comment="é" * 2000))
    assert r.status_code == 201, r.text
    assert rows(data_dir)[0]["comment"] == "é" * 2000


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b"[]", "application/json", 422),
        (b'"helpful"', "application/json", 422),
        (b'{"helpful": true}', "text/plain", 415),
        (b"helpful=true", "application/x-www-form-urlencoded", 415),
        (b'{"helpful": true}', "", 415),
    ],
    ids=["broken", "empty", "not-utf8", "array", "string", "text-plain", "form", "no-type"],
)
def test_non_json_or_wrong_content_type_is_a_4xx(client, data_dir, content, content_type, status):
    headers = {"content-type": content_type} if content_type else {}
    assert_error(client.post("/v1/feedback", content=content, headers=headers), status)
    assert rows(data_dir) == []


def test_a_body_over_the_size_limit_is_a_413(client):
    body = json.dumps({"comment": "x" * (64 * 1024)}).encode()
    assert_error(
        client.post("/v1/feedback", content=body, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )


def test_only_post_is_allowed(client):
    assert_error(client.get("/v1/feedback"), 405, "method_not_allowed")


def test_a_key_is_required_when_keys_are_configured(make_feedback_client, data_dir):
    keyed = make_feedback_client(api_keys=(KEY,))
    auth = {"authorization": f"Bearer {KEY}"}
    body = valid_body(keyed, headers=auth)
    assert_error(keyed.post("/v1/feedback", json=body), 401, "unauthorized")
    assert_error(keyed.post("/v1/feedback", json=body, headers={"x-api-key": "wrong"}), 401, "unauthorized")
    # the key is checked before the body is read
    assert_error(keyed.post("/v1/feedback", content=b"{not json", headers={"content-type": "text/plain"}), 401)
    assert rows(data_dir) == []
    assert keyed.post("/v1/feedback", json=body, headers=auth).status_code == 201
    assert keyed.post("/v1/feedback", json=body, headers={"x-api-key": KEY}).status_code == 201
    assert len(rows(data_dir)) == 2


def test_feedback_shares_the_callers_rate_limit_with_the_other_routes(make_feedback_client, data_dir):
    limited = make_feedback_client(rate_limit_per_minute=2)
    body = valid_body(limited)  # one /v1/answer call: the first of two tokens
    assert limited.post("/v1/feedback", json=body).status_code == 201
    r = limited.post("/v1/feedback", json=body)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    assert len(rows(data_dir)) == 1


def test_an_unusable_data_folder_is_a_503_and_answers_still_work(make_feedback_client, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    broken = make_feedback_client(data=blocker / "data")
    assert "feedback cannot be stored" in caplog.text
    assert broken.post("/v1/answer", json={"question": "EA renewal"}).status_code == 200
    error = assert_error(broken.post("/v1/feedback", json=valid_body(broken)), 503, "feedback_unavailable")
    assert str(blocker) not in error["message"]  # paths stay in the server log


def test_feedback_is_in_the_openapi_document(make_feedback_client):
    doc = make_feedback_client(api_keys=(KEY,)).get("/schema/openapi.json").json()
    operation = doc["paths"]["/v1/feedback"]["post"]
    assert set(operation["responses"]) >= {"201", "401", "415", "422", "429", "503"}
    assert operation["security"] == [{"BearerAuth": []}, {"ApiKeyAuth": []}]
    schema = doc["components"]["schemas"]["FeedbackRequest"]
    assert set(schema["required"]) == {"question", "answer", "abstained", "citations", "index_version", "helpful"}
    assert schema["properties"]["comment"]["maxLength"] == 2000
