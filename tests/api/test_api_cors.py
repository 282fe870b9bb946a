"""CORS: off unless origins are configured, then only for those origins."""

from __future__ import annotations

PREFLIGHT = {
    "origin": "https://app.example",
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type, authorization",
}


def test_no_cors_headers_by_default(client):
    r = client.get("/healthz", headers={"origin": "https://app.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_configured_origin_gets_cors_headers(make_client):
    client = make_client(cors_origins=("https://app.example",))
    r = client.options("/v1/answer", headers=PREFLIGHT)
    assert r.status_code in (200, 204)
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in r.headers["access-control-allow-methods"]
    r = client.post("/v1/answer", json={"question": "renewal"}, headers={"origin": "https://app.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()


def test_other_origins_get_no_cors_headers(make_client):
    client = make_client(cors_origins=("https://app.example",))
    r = client.options("/v1/answer", headers={**PREFLIGHT, "origin": "https://evil.example"})
    assert r.headers.get("access-control-allow-origin") != "https://evil.example"
    r = client.post("/v1/answer", json={"question": "renewal"}, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
