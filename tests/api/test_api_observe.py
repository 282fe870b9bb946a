"""Request ids, access log lines (text and JSON) and Prometheus metrics."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.logs import ACCESS_LOGGER, JsonFormatter, uvicorn_log_config
from api.observe import accept_request_id


def samples(client) -> dict[tuple[str, frozenset], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(metrics, name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize("rid", ["abc", "3b0c9d2e-1f2a-4e5b-9c8d-7e6f5a4b3c2d", "a" * 128, "svc.A:1_x-2"])
def test_a_sane_request_id_is_echoed(client, rid):
    r = client.get("/healthz", headers={"x-request-id": rid})
    assert r.headers["x-request-id"] == rid


@pytest.mark.parametrize("rid", ["", "a" * 129, "has space", "semi;colon", "new\\nline", "ünï", "<script>", "a/b"])
def test_an_unsafe_request_id_is_replaced(client, rid):
    r = client.get("/healthz", headers={"x-request-id": rid.encode()})
    assert r.headers["x-request-id"] != rid
    assert len(r.headers["x-request-id"]) == 32


def test_every_response_gets_a_fresh_id_including_router_errors(client):
    ids = {client.get(path).headers["x-request-id"] for path in ("/healthz", "/nope", "/healthz")}
    ids.add(client.put("/v1/answer").headers["x-request-id"])
    assert len(ids) == 4


def test_accept_request_id_rejects_non_ascii_bytes():
    assert accept_request_id(b"\xff\xfe") != "\xff\xfe"
    assert accept_request_id(None)


def test_one_access_line_per_request_with_the_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        client.post("/v1/answer", json={"question": "renewal"}, headers={"x-request-id": "req-1"})
        client.get("/nope", headers={"x-request-id": "req-2"})
    lines = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [r.fields["request_id"] for r in lines] == ["req-1", "req-2"]
    first, second = (r.fields for r in lines)
    assert first["route"] == "/v1/answer" and first["status"] == 200 and first["method"] == "POST"
    assert second["route"] is None and second["status"] == 404
    assert "req-1" in lines[0].getMessage() and " 200 " in lines[0].getMessage()


def test_json_log_lines_are_one_object_each(client, caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        client.get("/v1/sources", headers={"x-request-id": "req-json"})
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["request_id"] == "req-json"
    assert data["status"] == 200
    assert data["route"] == "/v1/sources"
    assert data["level"] == "info" and data["logger"] == ACCESS_LOGGER
    assert isinstance(data["duration_ms"], float)


def test_log_config_switches_formatter():
    assert uvicorn_log_config("json")["handlers"]["default"]["formatter"] == "json"
    assert uvicorn_log_config("text")["handlers"]["default"]["formatter"] == "text"


def test_metrics_count_requests_by_route_and_status(client):
    client.post("/v1/answer", json={"question": "renewal"})
    client.post("/v1/answer", json={"question": "renewal"})
    client.post("/v1/answer", json={"question": " "})
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    m = samples(client)
    assert value(m, "rag_http_requests_total", route="/v1/answer", method="POST", status="200") == 2
    assert value(m, "rag_http_requests_total", route="/v1/answer", method="POST", status="422") == 1
    assert value(m, "rag_http_requests_total", route="<unmatched>", method="GET", status="404") == 2
    assert value(m, "rag_http_request_duration_seconds_count", route="/v1/answer", method="POST") == 3
    assert value(m, "rag_pipeline_duration_seconds_count", operation="answer") == 2


def test_metrics_count_abstentions(client):
    client.post("/v1/answer", json={"question": "renewal"})
    client.post("/v1/answer", json={"question": "weather tomorrow?"})
    client.post("/v1/answer", json={"question": "and the weather today?"})
    m = samples(client)
    assert value(m, "rag_abstentions_total") == 2
    assert value(m, "rag_answers_total", outcome="abstained") == 2
    assert value(m, "rag_answers_total", outcome="answered") == 1


def test_metrics_show_the_index_version(client, pipeline):
    m = samples(client)
    manifest = pipeline.manifest
    labels = {
        "index_version": manifest.index_version,
        "model": manifest.model_name,
        "n_chunks": str(manifest.n_chunks),
        "n_documents": str(manifest.n_documents),
    }
    assert value(m, "rag_index_info", **labels) == 1
    assert value(m, "rag_ready") == 1


def test_odd_methods_do_not_create_label_values(client):
    client.request("BREW", "/v1/answer")
    m = samples(client)
    assert not any(dict(labels).get("method") == "BREW" for _, labels in m)


def test_each_app_has_its_own_registry(make_client):
    a, b = make_client(), make_client()
    a.get("/v1/sources")
    assert value(samples(b), "rag_http_requests_total", route="/v1/sources", method="GET", status="200") == 0
