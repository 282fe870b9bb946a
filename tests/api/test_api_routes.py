"""Happy paths of every route, and the core -> wire mapping they show."""

from __future__ import annotations

import pytest


def test_answer_maps_the_core_answer_to_the_wire_shape(client, pipeline):
    r = client.post("/v1/answer", json={"question": "What about an upcoming EA renewal?"})

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {
        "answer",
        "abstained",
        "confidence",
        "citations",
        "suggestions",
        "index_version",
        "timing_ms",
        "context_turn",
        "conversation_id",
    }
    assert body["context_turn"] is None and isinstance(body["conversation_id"], str)
    assert body["abstained"] is False
    assert body["index_version"] == pipeline.manifest.index_version
    assert body["timing_ms"] == {"retrieve": 1.0, "answer": 0.5, "total": 1.5}
    (citation,) = body["citations"]
    assert set(citation) == {"n", "source", "slide", "page", "title", "section", "quote", "score", "chunk_id"}
    assert citation["slide"] == 8
    assert citation["title"] == "Scenario 5"
    assert citation["chunk_id"] == "csp-for-sellers.md#s8-c1"
    assert body["answer"].endswith("[1]")


def test_answer_passes_question_and_top_k_to_the_pipeline_unchanged(client, pipeline):
    question = "  partner change?  "
    r = client.post("/v1/answer", json={"question": question, "top_k": 3})

    assert r.status_code == 200
    assert pipeline.calls[0] == ("answer", question, 3)


def test_answer_without_top_k_leaves_the_default_to_the_pipeline(client, pipeline):
    assert client.post("/v1/answer", json={"question": "renewal"}).status_code == 200
    assert pipeline.calls[0] == ("answer", "renewal", None)


def test_abstention_is_a_normal_answer_with_suggestions(client):
    r = client.post("/v1/answer", json={"question": "What is the weather in Paris?"})

    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is True
    assert body["citations"] == []
    assert body["suggestions"] == ["Scenario 5", "Scenario 1"]


def test_search_returns_ranked_passages(client, pipeline):
    r = client.post("/v1/search", json={"question": "customer wants to migrate from CSP to EA", "top_k": 3})

    assert r.status_code == 200
    body = r.json()
    assert body["index_version"] == pipeline.manifest.index_version
    assert [hit["rank"] for hit in body["results"]] == [1, 2, 3]
    assert set(body["results"][0]) == {
        "rank",
        "score",
        "chunk_id",
        "source",
        "slide",
        "page",
        "title",
        "section",
        "text",
    }
    assert body["results"][0]["slide"] == 11
    assert pipeline.calls[0] == ("search", "customer wants to migrate from CSP to EA", 3)


def test_search_top_k_defaults_to_ten(client, pipeline):
    assert client.post("/v1/search", json={"question": "partner"}).status_code == 200
    assert pipeline.calls[0] == ("search", "partner", 10)


@pytest.mark.parametrize("top_k", [1, 50])
def test_search_accepts_top_k_bounds(client, top_k):
    assert client.post("/v1/search", json={"question": "partner", "top_k": top_k}).status_code == 200


@pytest.mark.parametrize("top_k", [1, 20])
def test_answer_accepts_top_k_bounds(client, top_k):
    assert client.post("/v1/answer", json={"question": "partner", "top_k": top_k}).status_code == 200


def test_sources_lists_documents_with_their_slides(client, pipeline):
    r = client.get("/v1/sources")

    assert r.status_code == 200
    body = r.json()
    assert body["index_version"] == pipeline.manifest.index_version
    (doc,) = body["sources"]
    assert doc["source"] == "csp-for-sellers.md"
    assert doc["title"] == "CSP for Sellers"
    assert [p["slide"] for p in doc["parts"]] == list(range(4, 12))
    assert set(doc["parts"][0]) == {"slide", "page", "title", "scenario", "text"}


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_summarises_the_manifest(client, pipeline):
    r = client.get("/readyz")

    assert r.status_code == 200
    m = pipeline.manifest
    assert r.json() == {
        "status": "ready",
        "index_version": m.index_version,
        "model": m.model_name,
        "n_chunks": m.n_chunks,
        "n_documents": m.n_documents,
        "built_at": m.built_at,
    }


@pytest.mark.parametrize(
    "question",
    [
        "Qu'est-ce que je fais pour un renouvellement EA ? 🤔",
        "顧客がCSPからEAに移行したい場合は？",
        "ما الذي يجب أن أفعله؟",
        "<script>alert('renewal')</script>",
        "'; DROP TABLE chunks; --",
        "renewal\x00\x07\x1b[31m\u200b\ufeff",
        "renewal " + "\N{PILE OF POO}" * 500,
        "a",
        "x" * 2000,
        "  " + "x" * 2000 + "\n\n",
        "{{ 7 * 7 }} ${jndi:ldap://x} %s %n",
        "line one\nline two\r\n\ttabbed",
    ],
)
def test_odd_but_valid_questions_get_a_normal_answer(client, question):
    for path in ("/v1/answer", "/v1/search"):
        r = client.post(path, json={"question": question})
        assert r.status_code == 200, (path, r.text)


def test_json_with_charset_and_vendor_json_types_are_accepted(client):
    body = b'{"question": "renewal"}'
    for content_type in ("application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"):
        r = client.post("/v1/answer", content=body, headers={"content-type": content_type})
        assert r.status_code == 200, content_type
