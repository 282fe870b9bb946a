"""The OpenAPI document and the offline docs page."""

from __future__ import annotations

import re

import pytest

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_docs_page_loads_nothing_from_other_hosts(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in r.text
    assert not EXTERNAL.search(r.text), EXTERNAL.search(r.text)
    for asset in re.findall(r"""(?:src|href)="([^"]+)\"""", r.text):
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000


def test_only_the_three_swagger_assets_are_served(client):
    assert (
        client.get("/schema/swagger-assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    )
    assert client.get("/schema/swagger-assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    for name in ("swagger-editor.js", "index.css", "..%2F__init__.py", "LICENSE"):
        r = client.get(f"/schema/swagger-assets/{name}")
        assert r.status_code == 404
        assert set(r.json()["error"]) == {"status", "code", "message", "request_id"}


def test_openapi_document_describes_the_api(client):
    doc = client.get("/schema/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/v1/answer", "/v1/search", "/v1/sources", "/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
    answer = doc["paths"]["/v1/answer"]["post"]
    assert answer["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AnswerRequest")
    for status in ("200", "400", "413", "415", "422", "429", "500", "503"):
        assert status in answer["responses"], status
    assert answer["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


@pytest.mark.parametrize(
    "schema",
    [
        "AnswerRequest",
        "AnswerResponse",
        "CitationOut",
        "SearchRequest",
        "SearchHit",
        "ErrorBody",
        "ReadyResponse",
    ],
)
def test_request_and_response_schemas_carry_examples(client, schema):
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    props = schemas[schema]["properties"]
    with_examples = [name for name, prop in props.items() if prop.get("examples")]
    scalar = [n for n, p in props.items() if "$ref" not in p and p.get("type") not in ("array", "object")]
    assert set(scalar) - {"abstained", "text"} <= set(with_examples)


def test_request_limits_are_in_the_schema(client):
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    top_k = schemas["SearchRequest"]["properties"]["top_k"]
    assert (top_k["minimum"], top_k["maximum"], top_k["default"]) == (1, 50, 10)
    assert schemas["AnswerRequest"]["required"] == ["question"]


def test_security_schemes_are_documented_only_when_keys_are_required(make_client):
    open_doc = make_client().get("/schema/openapi.json").json()
    assert "security" not in open_doc["paths"]["/v1/answer"]["post"]
    keyed_doc = make_client(api_keys=("k",)).get("/schema/openapi.json").json()
    assert keyed_doc["paths"]["/v1/answer"]["post"]["security"] == [{"BearerAuth": []}, {"ApiKeyAuth": []}]
    assert set(keyed_doc["components"]["securitySchemes"]) == {"BearerAuth", "ApiKeyAuth"}
    assert "security" not in keyed_doc["paths"]["/healthz"]["get"]
