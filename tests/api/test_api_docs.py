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
    assert "swagger-ui-bundle.js" in r.text and "<script>" not in r.text  # no inline script (CSP)
    assert not EXTERNAL.search(r.text), EXTERNAL.search(r.text)
    for asset in re.findall(r"""(?:src|href)="([^"]+)\"""", r.text):
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > (100 if asset.endswith("/swagger-init.js") else 1000)


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
    if schema == "AnswerRequest":  # "Try it out" must not send an id the server never issued
        assert props["conversation_id"]["examples"] == [None]


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


def test_request_bodies_refuse_unknown_fields_in_the_schema_too(client):
    """The structs forbid unknown fields (a 422); Litestar alone would not say so in the document."""
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    for name in ("AnswerRequest", "SearchRequest", "FeedbackRequest", "FeedbackCitation", "ReindexRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["AnswerResponse"]  # responses may grow


def test_zero_bounds_are_documented(client):
    """Litestar drops falsy constraints (``ge=0``); the document must still say slide >= 0."""
    citation = client.get("/schema/openapi.json").json()["components"]["schemas"]["FeedbackCitation"]["properties"]
    assert citation["slide"]["minimum"] == 0 and citation["page"]["minimum"] == 0


@pytest.mark.parametrize("question", ["renewal", " a ", "", " ", "\t\n", "\x1f", "\u3000", "\ufeff", "\x85x"])
def test_the_documented_question_pattern_is_the_servers_blank_rule(client, question):
    """The pattern is read alike by Python and JSON Schema; the server refuses exactly what it refuses."""
    schema = client.get("/schema/openapi.json").json()["components"]["schemas"]["AnswerRequest"]
    documented = len(question) >= 1 and re.search(schema["properties"]["question"]["pattern"], question) is not None
    accepted = client.post("/v1/answer", json={"question": question}).status_code == 200
    assert documented == accepted


def test_admin_routes_document_their_key_optional_body_and_status(client):
    doc = client.get("/schema/openapi.json").json()
    post, get = doc["paths"]["/v1/admin/reindex"]["post"], doc["paths"]["/v1/admin/reindex"]["get"]
    assert post["security"] == get["security"] == [{"BearerAuth": []}, {"ApiKeyAuth": []}]
    assert post["requestBody"]["required"] is False
    status = {"$ref": "#/components/schemas/ReindexStatusResponse"}
    assert post["responses"]["202"]["content"]["application/json"]["schema"] == status
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == status


def test_metrics_are_documented_as_text_with_one_charset(client):
    doc = client.get("/schema/openapi.json").json()
    [documented] = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    served = client.get("/metrics").headers["content-type"]
    assert served.count("charset") == 1 and served.startswith(documented)
