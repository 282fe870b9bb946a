"""API keys on /v1: both header styles, wrong and missing keys, open operator routes."""

from __future__ import annotations

import logging

import pytest

from api.auth import KeyRing, presented_key

KEYS = ("first-key-0123456789", "second-key-ñ-abcdef")


@pytest.fixture
def keyed(make_client):
    return make_client(api_keys=KEYS)


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {KEYS[0]}"},
        {"authorization": f"bearer {KEYS[0]}"},
        {"authorization": f"  Bearer   {KEYS[0]}  "},
        {"x-api-key": KEYS[0]},
        {"x-api-key": KEYS[1].encode("utf-8")},
        {"authorization": f"Bearer {KEYS[1]}".encode()},
    ],
)
def test_a_valid_key_in_either_header_is_accepted(keyed, headers):
    assert keyed.post("/v1/answer", json={"question": "renewal"}, headers=headers).status_code == 200
    assert keyed.post("/v1/search", json={"question": "renewal"}, headers=headers).status_code == 200
    assert keyed.get("/v1/sources", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": f"Basic {KEYS[0]}"},
        {"authorization": KEYS[0]},
        {"x-api-key": ""},
    ],
)
def test_a_missing_key_is_a_401_with_a_challenge(keyed, headers):
    r = keyed.get("/v1/sources", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert "required" in r.json()["error"]["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {KEYS[0]}x"},
        {"authorization": f"Bearer {KEYS[0][:-1]}"},
        {"x-api-key": KEYS[0].upper()},
        {"x-api-key": ("ñ" * 10).encode()},
    ],
)
def test_a_wrong_key_is_a_401(keyed, pipeline, headers):
    r = keyed.post("/v1/answer", json={"question": "renewal"}, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "the API key is not valid"
    assert pipeline.calls == []


def test_the_key_is_checked_before_the_body(keyed):
    """No key: 401 even for a body that would be a 413, 415 or 422."""
    assert (
        keyed.post("/v1/answer", content=b"x" * 100_000, headers={"content-type": "application/json"}).status_code
        == 401
    )
    assert keyed.post("/v1/answer", content=b"x", headers={"content-type": "text/plain"}).status_code == 401
    assert keyed.post("/v1/answer", json={"question": ""}).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/schema", "/schema/openapi.json"])
def test_operator_routes_and_docs_need_no_key(keyed, path):
    assert keyed.get(path).status_code == 200


def test_without_configured_keys_v1_is_open(client):
    assert client.get("/v1/sources").status_code == 200


def test_keys_never_reach_the_logs(keyed, caplog):
    with caplog.at_level(logging.DEBUG):
        keyed.get("/v1/sources", headers={"authorization": f"Bearer {KEYS[0]}"})
        keyed.get("/v1/sources", headers={"x-api-key": ("guess-" + KEYS[1]).encode()})
    assert caplog.records
    assert all(KEYS[0] not in r.getMessage() and KEYS[1] not in r.getMessage() for r in caplog.records)
    assert KEYS[0] not in caplog.text and "guess-" not in caplog.text


def test_keyring_identifies_callers_by_position_only():
    ring = KeyRing.from_keys(KEYS)
    assert ring.identify({"x-api-key": KEYS[1].encode().decode("latin-1")}) == "key:1"
    assert ring.identify({"authorization": f"Bearer {KEYS[0]}"}) == "key:0"
    assert all(KEYS[0].encode() not in d for d in ring.digests)
    assert not KeyRing.from_keys(()).enabled


def test_bearer_wins_over_x_api_key():
    assert presented_key({"authorization": "Bearer a", "x-api-key": "b"}) == "a"
    assert presented_key({"authorization": "Token a", "x-api-key": "b"}) == "b"
    assert presented_key({}) is None
