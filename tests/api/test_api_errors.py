"""Every error status has the one JSON shape; bad input is a 4xx, never a 5xx."""

from __future__ import annotations

import json

import pytest

from rag.errors import (
    ConfigError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQuestionError,
    ModelError,
)

ERROR_KEYS = {"status", "code", "message", "request_id"}


def assert_error(r, status: int, code: str | None = None) -> dict:
    """The pinned error shape: exactly ``{"error": {status, code, message, request_id}}``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ERROR_KEYS
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    if code is not None:
        assert error["code"] == code
    return error


def test_404_unknown_route(client):
    assert_error(client.get("/v1/nope"), 404, "not_found")
    assert_error(client.post("/nope", json={}), 404, "not_found")


def test_405_wrong_method_names_the_allowed_ones(client):
    r = client.get("/v1/answer")
    error = assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]
    assert "POST" in error["message"]
    assert_error(client.delete("/v1/sources"), 405, "method_not_allowed")


def test_413_body_over_the_limit(client):
    body = json.dumps({"question": "x" * (64 * 1024)}).encode()
    assert_error(
        client.post("/v1/answer", content=body, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )


def test_413_uses_the_configured_limit(make_client):
    client = make_client(max_body_bytes=100)
    body = json.dumps({"question": "y" * 200}).encode()
    r = client.post("/v1/search", content=body, headers={"content-type": "application/json"})
    assert "100 bytes" in assert_error(r, 413)["message"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "text/json",
    ],
)
def test_415_wrong_content_type(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/answer", content=b'{"question": "renewal"}', headers=headers)
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_request"),
        ({"top_k": 3}, "invalid_request"),
        ({"question": None}, "invalid_request"),
        ({"question": 42}, "invalid_request"),
        ({"question": ["renewal"]}, "invalid_request"),
        ({"question": {"text": "renewal"}}, "invalid_request"),
        ({"question": ""}, "invalid_request"),
        ({"question": "   "}, "invalid_question"),
        ({"question": "\n\t \u3000"}, "invalid_question"),
        ({"question": "x" * 2001}, "invalid_question"),
        ({"question": "renewal", "top_k": 0}, "invalid_request"),
        ({"question": "renewal", "top_k": 21}, "invalid_request"),
        ({"question": "renewal", "top_k": -1}, "invalid_request"),
        ({"question": "renewal", "top_k": True}, "invalid_request"),
        ({"question": "renewal", "top_k": False}, "invalid_request"),
        ({"question": "renewal", "top_k": "5"}, "invalid_request"),
        ({"question": "renewal", "top_k": 2.5}, "invalid_request"),
        ({"question": "renewal", "top_k": 10**30}, "invalid_request"),
        ({"question": "renewal", "topk": 5}, "invalid_request"),
        ([], "invalid_request"),
        (["renewal"], "invalid_request"),
        ("renewal", "invalid_request"),
        (None, "invalid_request"),
        (5, "invalid_request"),
    ],
)
def test_422_invalid_answer_bodies(client, pipeline, body, code):
    r = client.post("/v1/answer", content=json.dumps(body), headers={"content-type": "application/json"})
    assert_error(r, 422, code)
    assert pipeline.calls == []  # rejected before reaching the core


@pytest.mark.parametrize("top_k", [0, 51, True, "10", 10.5, None])
def test_422_invalid_search_top_k(client, top_k):
    assert_error(client.post("/v1/search", json={"question": "renewal", "top_k": top_k}), 422, "invalid_request")


def test_a_whole_number_written_with_a_fraction_is_an_integer(client, pipeline):
    """JSON Schema (the OpenAPI document) counts 5.0 as an integer, so the server does too."""
    assert client.post("/v1/answer", json={"question": "renewal", "top_k": 5.0}).status_code == 200
    assert client.post("/v1/search", json={"question": "renewal", "top_k": 3.0}).json()["results"][2]["rank"] == 3
    assert [(op, k, type(k)) for op, _, k in pipeline.calls[:1]] == [("answer", 5, int)]


def test_422_names_the_offending_field(client):
    error = assert_error(client.post("/v1/answer", json={"question": "renewal", "top_k": True}), 422)
    assert "top_k" in error["message"]


def test_422_question_limit_follows_the_setting(make_client):
    client = make_client(max_question_chars=10)
    assert client.post("/v1/answer", json={"question": "x" * 10}).status_code == 200
    error = assert_error(client.post("/v1/answer", json={"question": "x" * 11}), 422, "invalid_question")
    assert "10" in error["message"]


def test_invalid_question_from_the_core_is_a_422(make_client, pipeline):
    pipeline.fail_with = InvalidQuestionError("the question is not text the model can read")
    error = assert_error(make_client().post("/v1/answer", json={"question": "renewal"}), 422, "invalid_question")
    assert error["message"] == "the question is not text the model can read"


UNREADABLE = "the request body is not valid JSON: send one JSON object, encoded as UTF-8"
"""Our message for every body the decoder cannot read, pinned here as text: the decoder's own
messages and exception types change between releases (msgspec 0.23 reports invalid UTF-8 as
"Invalid UTF-8 encoded string", where older releases raised UnicodeDecodeError)."""


@pytest.mark.parametrize(
    "body",
    [
        b"{bad",
        b'{"question": "renewal"',
        b"\xff\xfe\x00",
        b'{"question": "\\ud800"}',
        b"nul\x00l",
        b'{"question": "a", "question": 5',
        b"\x00" * 100,
        b'{"question": 1e999}',
        b"[" * 1000,
        b"[" * 10_000,  # deeper than the decoder recurses: RecursionError, which Litestar does not wrap
        b'{"q\xe9": 1}',  # invalid UTF-8 in a key
        '{"question": "é"}'.encode("latin-1"),  # invalid UTF-8 in a value
        "{\"question\": \"renewal\"}".encode("utf-16"),
    ],
    ids=[
        "not-json",
        "truncated",
        "bom-bytes",
        "lone-surrogate",
        "nul",
        "unterminated",
        "nul-bytes",
        "number-out-of-range",
        "deep-1000",
        "deep-10000",
        "latin-1-key",
        "latin-1-value",
        "utf-16",
    ],
)
def test_400_every_unreadable_body_gets_our_one_message(client, pipeline, body):
    r = client.post("/v1/answer", content=body, headers={"content-type": "application/json"})
    assert assert_error(r, 400, "bad_request")["message"] == UNREADABLE
    assert pipeline.calls == []


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_400_empty_body(client, body):
    r = client.post("/v1/answer", content=body, headers={"content-type": "application/json"})
    assert "empty" in assert_error(r, 400, "bad_request")["message"]


def test_400_whatever_the_decoder_raises(make_client, monkeypatch):
    """Another release of msgspec or Litestar may raise something else for a bad body
    (msgspec 0.23 changed invalid UTF-8 from UnicodeDecodeError to DecodeError): the
    client still gets our 400, never a 500 or the library's wording."""
    from litestar import Request

    client = make_client()
    for raised in (
        UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"),
        ValueError("some new decoder complaint"),
        RecursionError("maximum recursion depth exceeded"),
        TypeError("unexpected"),
    ):

        async def failing_json(self, raised=raised):
            raise raised

        monkeypatch.setattr(Request, "json", failing_json)
        r = client.post("/v1/answer", content=b'{"question": "renewal"}', headers={"content-type": "application/json"})
        assert assert_error(r, 400, "bad_request")["message"] == UNREADABLE, raised
        assert str(raised) not in r.text


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (RuntimeError("boom at /secret/path"), 500, "internal_error"),
        (KeyError("chunk 17"), 500, "internal_error"),
        (MemoryError(), 500, "internal_error"),
        (ConfigError("RAG_TOP_K=abc is not a whole number"), 500, "internal_error"),
        (ModelError("weights at /opt/model fail verification"), 500, "internal_error"),
        (IndexNotFoundError("no index at /srv/index"), 503, "index_unavailable"),
        (IndexMismatchError("built with model X"), 503, "index_unavailable"),
        (IndexCorruptError("vectors.faiss truncated"), 503, "index_unavailable"),
    ],
)
def test_pipeline_exceptions_map_to_a_status_and_hide_their_details(make_client, pipeline, exc, status, code):
    pipeline.fail_with = exc
    client = make_client()
    for method, path, kwargs in (
        ("post", "/v1/answer", {"json": {"question": "renewal"}}),
        ("post", "/v1/search", {"json": {"question": "renewal"}}),
        ("get", "/v1/sources", {}),
    ):
        r = getattr(client, method)(path, **kwargs)
        error = assert_error(r, status, code)
        assert str(exc) not in error["message"] or not str(exc)
        assert "/secret" not in r.text and "/srv" not in r.text and "/opt" not in r.text


def test_500_is_logged_with_its_traceback_and_request_id(make_client, pipeline, caplog):
    pipeline.fail_with = RuntimeError("boom")
    with caplog.at_level("ERROR", logger="rag.api"):
        r = make_client().post("/v1/answer", json={"question": "renewal"}, headers={"x-request-id": "req-500"})
    assert_error(r, 500)
    (record,) = [rec for rec in caplog.records if rec.name == "rag.api"]
    assert "req-500" in record.getMessage() and "RuntimeError: boom" in record.getMessage()
    assert record.exc_info is not None


def test_index_errors_are_logged_with_their_message_not_a_traceback(make_client, pipeline, caplog):
    pipeline.fail_with = IndexCorruptError("vectors.npy is truncated: run `rag index`")
    with caplog.at_level("ERROR", logger="rag.api"):
        assert_error(make_client().get("/v1/sources"), 503, "index_unavailable")
    (record,) = [rec for rec in caplog.records if rec.name == "rag.api"]
    assert "vectors.npy is truncated: run `rag index`" in record.getMessage()
    assert record.exc_info is None


def test_expected_503s_while_loading_are_not_logged_as_errors(pipeline, caplog):
    import threading

    from litestar.testing import TestClient

    from api.app import create_app
    from rag.config import Settings

    release = threading.Event()
    with (
        caplog.at_level("ERROR", logger="rag.api"),
        TestClient(create_app(Settings(), loader=lambda _: release.wait(10) and pipeline)) as client,
    ):
        assert_error(client.get("/v1/sources"), 503, "not_ready")
        release.set()
    assert not [rec for rec in caplog.records if rec.name == "rag.api"]


def test_a_long_unknown_path_is_not_echoed_in_full(client):
    message = assert_error(client.get("/" + "x" * 5000), 404)["message"]
    assert len(message) < 300


def test_every_error_status_shares_one_shape(make_client, pipeline):
    """One request per status; the same four keys every time (the shape is pinned)."""
    client = make_client(api_keys=("good-key",), rate_limit_per_minute=3)
    auth = {"authorization": "Bearer good-key"}
    seen = {
        400: client.post("/v1/answer", content=b"{", headers={**auth, "content-type": "application/json"}),
        401: client.get("/v1/sources"),
        404: client.get("/missing"),
        405: client.put("/v1/answer"),
        413: client.post("/v1/answer", content=b"x" * 70_000, headers={**auth, "content-type": "application/json"}),
    }
    client = make_client(api_keys=("good-key",), rate_limit_per_minute=0)
    seen[415] = client.post("/v1/answer", content=b"{}", headers={**auth, "content-type": "text/plain"})
    seen[422] = client.post("/v1/answer", json={"question": " "}, headers=auth)
    pipeline.fail_with = RuntimeError("boom")
    seen[500] = client.post("/v1/answer", json={"question": "q"}, headers=auth)
    pipeline.fail_with = IndexCorruptError("bad")
    seen[503] = client.post("/v1/answer", json={"question": "q"}, headers=auth)
    limited = make_client(rate_limit_per_minute=1)
    limited.get("/v1/sources")
    seen[429] = limited.get("/v1/sources")
    shapes = {status: sorted(assert_error(r, status)) for status, r in seen.items()}
    assert set(shapes) == {400, 401, 404, 405, 413, 415, 422, 429, 500, 503}
    assert all(keys == sorted(ERROR_KEYS) for keys in shapes.values())


MALFORMED = [
    ("post", "/v1/answer", {"content": b"\x00" * 100, "headers": {"content-type": "application/json"}}),
    (
        "post",
        "/v1/answer",
        {"content": b'{"question": 1e999}', "headers": {"content-type": "application/json"}},
    ),
    (
        "post",
        "/v1/answer",
        {"content": b'{"question": "' + b"\\" * 3 + b'"}', "headers": {"content-type": "application/json"}},
    ),
    (
        "post",
        "/v1/answer",
        {"content": '{"question": "é"}'.encode("latin-1"), "headers": {"content-type": "application/json"}},
    ),
    (
        "post",
        "/v1/answer",
        {
            "content": b'{"question": "a"}',
            "headers": {"content-type": "application/json", "content-length": "abc"},
        },
    ),
    (
        "post",
        "/v1/search",
        {"content": b'{"question": {"$gt": ""}}', "headers": {"content-type": "application/json"}},
    ),
    (
        "post",
        "/v1/search",
        {
            "content": json.dumps({"question": "q", "top_k": [1]}).encode(),
            "headers": {"content-type": "application/json"},
        },
    ),
    ("get", "/v1/sources?page=-1&x=%00", {}),
    ("get", "/v1/answer/../../etc/passwd", {}),
    ("get", "/%ff%fe", {}),
    ("patch", "/v1/search", {"json": {"question": "q"}}),
    ("options", "/v1/nothing", {}),
    ("post", "/healthz", {"json": {}}),
    (
        "post",
        "/v1/answer",
        {
            "content": b'{"question": "q"}',
            "headers": {"content-type": "application/json", "x-request-id": "a" * 5000},
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), MALFORMED)
def test_malformed_requests_never_get_a_5xx_and_the_app_keeps_serving(client, method, path, kwargs):
    r = client.request(method.upper(), path, **kwargs)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert_error(r, r.status_code)
    assert client.post("/v1/answer", json={"question": "renewal"}).status_code == 200
