"""Security headers on every response: page, static files, API JSON, errors, docs, probes."""

from __future__ import annotations

import pytest

from api.headers import API_CSP, DOCS_CSP
from api.page import CONTENT_SECURITY_POLICY as PAGE_CSP

KEY = "headers-test-key"

REQUESTS = [
    ("GET", "/", None, 200, PAGE_CSP),
    ("GET", "/static/page.js", None, 200, API_CSP),
    ("GET", "/static/nope.js", None, 404, API_CSP),
    ("GET", "/v1/sources", KEY, 200, API_CSP),
    ("POST", "/v1/answer", KEY, 200, API_CSP),
    ("POST", "/v1/answer", None, 401, API_CSP),
    ("GET", "/v1/answer", KEY, 405, API_CSP),
    ("GET", "/no/such/route", None, 404, API_CSP),
    ("GET", "/healthz", None, 200, API_CSP),
    ("GET", "/metrics", None, 200, API_CSP),
    ("GET", "/schema", None, 200, DOCS_CSP),
    ("GET", "/schema/swagger", None, 200, DOCS_CSP),
    ("GET", "/schema/swagger-init.js", None, 200, DOCS_CSP),
    ("GET", "/schema/openapi.json", None, 200, DOCS_CSP),
]


@pytest.mark.parametrize(
    ("method", "path", "key", "status", "csp"), REQUESTS, ids=[f"{m} {p} {s}" for m, p, _, s, _ in REQUESTS]
)
def test_every_response_carries_the_security_headers(make_client, method, path, key, status, csp):  # type: ignore[no-untyped-def]
    client = make_client(api_keys=(KEY,))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = client.request(method, path, headers=headers, json={"question": "renewal"} if method == "POST" else None)
    assert r.status_code == status
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]  # once, even where a handler set it
    assert r.headers.get_list("x-frame-options") == ["DENY"]
    assert r.headers.get_list("referrer-policy") == ["no-referrer"]
    assert "camera=()" in r.headers["permissions-policy"] and "microphone=()" in r.headers["permissions-policy"]
    assert r.headers.get_list("content-security-policy") == [csp]


@pytest.mark.parametrize("csp", [API_CSP, DOCS_CSP, PAGE_CSP], ids=["api", "docs", "page"])
def test_every_policy_is_strict(csp):  # type: ignore[no-untyped-def]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert all(source in ("'self'", "'none'", "data:") for value in directives.values() for source in value.split())
    assert directives.get("script-src", "'none'") in ("'self'", "'none'")  # scripts only from this origin
