"""The benchmark's pure helpers (bench/): percentiles, /proc parsing, synthetic vectors,
recall, question rotation, the HTTP/1.1 framing of the load client, targets and the report.

No server and no model: the one socket test talks to a tiny server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import numpy as np
import pytest

from bench.http1 import Connection, HttpError, encode_request, parse_head
from bench.http_load import LevelResult, level_summary
from bench.questions import (
    OUT_OF_SCOPE,
    QUESTIONS,
    UNIQUE_WARMUP,
    first_level_questions,
    repeated_questions,
    unique_questions,
)
from bench.report import Target, answer_encode_ratio, dig, jsonable, render, targets
from bench.run import parse_server_env
from bench.scale import parse_sizes
from bench.stats import parse_stat_cpu_ticks, parse_system_cpu_ticks, parse_vmrss_kib, summarise
from bench.synthetic import cluster_centres, clustered_vectors, exact_top_k, query_vectors, recall_at_k
from eval.stats import percentile
from rag.batching import normalise_question
from rag.index import DenseIndex

# ------------------------------------------------------------------ percentiles


def test_nearest_rank_percentiles_of_one_to_hundred() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0


def test_percentiles_of_small_samples_are_not_biased_upwards() -> None:
    values = [float(v) for v in range(1, 11)]
    assert [percentile(values, q) for q in (0, 10, 50, 90, 95)] == [1.0, 1.0, 5.0, 9.0, 10.0]
    assert percentile([], 50) is None  # summarise turns an empty sample into NaN figures
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summary_sorts_its_input_and_reports_real_observations() -> None:
    s = summarise([9.0, 1.0, 5.0, 3.0, 7.0])
    assert (s["n"], s["p50"], s["min"], s["max"], s["mean"]) == (5, 5.0, 1.0, 9.0, 5.0)
    assert s["p99"] == 9.0  # nearest rank: a latency some request really had


def test_summary_of_nothing_is_nan_not_an_error() -> None:
    s = summarise([])
    assert s["n"] == 0 and math.isnan(s["p50"])


# ------------------------------------------------------------------ /proc parsing


def test_vmrss_is_read_from_the_status_text() -> None:
    status = "Name:\tpython\nVmPeak:\t  900000 kB\nVmRSS:\t  289772 kB\nRssAnon:\t 1 kB\n"
    assert parse_vmrss_kib(status) == 289772


def test_missing_vmrss_raises() -> None:
    with pytest.raises(ValueError, match="VmRSS"):
        parse_vmrss_kib("Name:\tzombie\nState:\tZ (zombie)\n")


def test_cpu_ticks_survive_a_command_name_with_spaces_and_parentheses() -> None:
    fields = ["S", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "120", "30", "0", "0"]
    stat = "4242 (python (a b)) " + " ".join(fields)
    assert parse_stat_cpu_ticks(stat) == 150


def test_system_cpu_counts_idle_and_iowait_as_not_busy() -> None:
    text = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n"
    assert parse_system_cpu_ticks(text) == (160, 1180)


# ------------------------------------------------------------------ synthetic vectors


def test_synthetic_vectors_have_the_shape_type_and_unit_norm_of_embeddings() -> None:
    v = clustered_vectors(1_234, dim=32, n_centres=10, block_rows=500)
    assert v.shape == (1_234, 32) and v.dtype == np.float32 and v.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_synthetic_vectors_are_deterministic_per_seed() -> None:
    a = clustered_vectors(300, dim=16, n_centres=5, seed=3, block_rows=128)
    b = clustered_vectors(300, dim=16, n_centres=5, seed=3, block_rows=128)
    c = clustered_vectors(300, dim=16, n_centres=5, seed=4, block_rows=128)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_synthetic_vectors_cluster_around_their_centres() -> None:
    dim = 384
    v = clustered_vectors(2_000, dim=dim, n_centres=20, noise=0.35)
    centres = cluster_centres(dim=dim, n_centres=20)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    nearest = (v @ centres.T).max(axis=1)
    # noise 0.35 of the centres' scale: cosine 1/sqrt(1 + 0.35^2) = 0.94 with the centre
    assert nearest.mean() == pytest.approx(1 / math.sqrt(1 + 0.35**2), abs=0.01)
    # vectors of different clusters are nearly orthogonal: real structure, not one blob
    assert abs(float((v[:1000] @ v[1000:].T).mean())) < 0.1


def test_queries_share_the_centres_but_are_not_copies_of_the_vectors() -> None:
    v = clustered_vectors(500, dim=64, n_centres=5)
    q = query_vectors(50, dim=64, n_centres=5)
    best = (q @ v.T).max(axis=1)
    assert best.min() > 0.7 and best.max() < 0.9999


def test_zero_vectors_and_bad_shapes() -> None:
    assert clustered_vectors(0, dim=8).shape == (0, 8)
    with pytest.raises(ValueError):
        clustered_vectors(10, dim=0)


# ------------------------------------------------------------------ exact search and recall


def test_blockwise_exact_top_k_matches_a_full_sort() -> None:
    rng = np.random.default_rng(1)
    v = rng.standard_normal((700, 24)).astype(np.float32)
    q = rng.standard_normal((9, 24)).astype(np.float32)
    expected = np.argsort(-(q @ v.T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(exact_top_k(v, q, 10, block_rows=64), expected)


def test_exact_top_k_agrees_with_the_services_flat_index() -> None:
    v = clustered_vectors(3_000, dim=48, n_centres=30)
    q = query_vectors(20, dim=48, n_centres=30)
    index = DenseIndex.build(v, exact_max_vectors=10_000)
    assert index.kind == "flat-ip"
    found = np.array([[row for row, _ in index.search(x, 10)] for x in q])
    assert recall_at_k(found, exact_top_k(v, q, 10), 10) == 1.0


def test_recall_counts_the_overlap_of_the_top_k_in_any_order() -> None:
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(truth, truth, 4) == 1.0
    assert recall_at_k(truth[:, ::-1], truth, 4) == 1.0
    assert recall_at_k(np.array([[1, 2, 9, 9], [0, 0, 0, 0]]), truth, 4) == pytest.approx(2 / 8)
    assert recall_at_k(np.array([[1, 2, 3, 4], [9, 9, 9, 9]]), truth, 2) == pytest.approx(0.5)


def test_recall_never_matches_faiss_padding() -> None:
    truth = np.array([[-1, 2]])  # nonsense truth, but -1 in the results must never count
    assert recall_at_k(np.array([[-1, 2]]), truth, 2) == 0.5


def test_recall_rejects_mismatched_query_counts() -> None:
    with pytest.raises(ValueError, match="queries"):
        recall_at_k(np.zeros((2, 10)), np.zeros((3, 10)), 10)


def test_scale_sizes_are_parsed_and_checked() -> None:
    assert parse_sizes("10000,100_000, 1000000") == (10_000, 100_000, 1_000_000)
    for bad in ("", "ten", "5"):
        with pytest.raises(Exception, match="--sizes"):
            parse_sizes(bad)


# ------------------------------------------------------------------ questions


def test_the_rotating_set_is_varied_and_includes_out_of_scope_questions() -> None:
    assert len({normalise_question(q) for q in QUESTIONS}) == len(QUESTIONS) >= 30
    assert 3 <= len(OUT_OF_SCOPE) < len(QUESTIONS) // 2


def test_repeated_questions_cycle_through_the_set() -> None:
    it = repeated_questions(("a", "b"))
    assert [next(it) for _ in range(5)] == ["a", "b", "a", "b", "a"]


def test_unique_questions_never_share_a_cache_key_within_a_run() -> None:
    import itertools

    counter = itertools.count(1)
    first = unique_questions(counter, QUESTIONS)
    asked = [next(first) for _ in range(3 * len(QUESTIONS))]
    later = unique_questions(counter, QUESTIONS)  # a second phase of the same run
    asked += [next(later) for _ in range(50)]
    keys = [normalise_question(q) for q in asked]
    assert len(set(keys)) == len(keys)
    assert asked[0] == f"{QUESTIONS[0]} (case 1)"


def test_the_encode_floor_times_what_the_first_level_sends_after_the_warm_up() -> None:
    import itertools

    sent = unique_questions(itertools.count(1))  # as bench.run.http_runs: warm-up, then the 1-client level
    warm_up = [next(sent) for _ in range(UNIQUE_WARMUP)]
    level = [next(sent) for _ in range(5)]
    assert first_level_questions(5) == level and not set(level) & set(warm_up)
    assert level[0] == f"{QUESTIONS[UNIQUE_WARMUP]} (case {UNIQUE_WARMUP + 1})"


# ------------------------------------------------------------------ HTTP/1.1 framing


def test_request_bytes_carry_the_body_length_in_bytes() -> None:
    raw = encode_request("127.0.0.1:8000", "/v1/answer", {"question": "renouvellement EA ? 🤔"})
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /v1/answer HTTP/1.1\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    assert "🤔".encode() in body


def test_response_heads_are_parsed_case_insensitively() -> None:
    status, headers = parse_head(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\nRetry-After: 5\r\n\r\n")
    assert status == 503 and headers == {"content-length": "12", "retry-after": "5"}
    with pytest.raises(HttpError):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_connection_refuses_non_loopback_urls() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Connection("http://10.1.2.3:8000", timeout=1)


def test_connection_reads_length_and_chunked_bodies_on_one_keep_alive_socket() -> None:
    responses = [
        b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n{"ok": true}',
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n 1\r\n1\r\n}\r\n0\r\n\r\n",
    ]
    connections = Counter[str]()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections["opened"] += 1
        for response in responses:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(dict(parse_head(b"HTTP/1.1 200 X\r\n" + head.split(b"\r\n", 1)[1])[1])["content-length"])
            await reader.readexactly(length)
            writer.write(response)
            await writer.drain()
        writer.close()

    async def scenario() -> list[object]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = Connection(f"http://127.0.0.1:{port}", timeout=5)
        try:
            first = await conn.post_json("/v1/answer", {"question": "q"})
            second = await conn.post_json("/v1/answer", {"question": "q"})
            with pytest.raises(HttpError):  # the server closed: reported, not hung
                await conn.post_json("/v1/answer", {"question": "q"})
        finally:
            await conn.close()
            server.close()
            await server.wait_closed()
        return [first.status, first.json(), second.json()]

    assert asyncio.run(scenario()) == [200, {"ok": True}, {"a": 1}]
    assert connections["opened"] == 1


# ------------------------------------------------------------------ levels, targets, report


def test_level_summary_counts_hits_errors_and_rate() -> None:
    out = LevelResult(latencies_ms=[1.0, 2.0, 3.0, 4.0], server_ms=[0.5, float("nan"), 0.5, 0.5],
                      errors=Counter({"HTTP 503": 1}), sent=5, cache_hits=3, abstained=1)
    s = level_summary(out, 2.0, clients=4, client_cpu_s=0.004, server_cpu_s=0.04, other_cpu_s=0.5)
    assert (s["ok"], s["errors"], s["rps"], s["cache_hit_rate"]) == (4, 1, 2.0, 0.75)
    assert s["server_total_ms"]["n"] == 3  # a response without timing does not count as 0 ms
    assert (s["client_cpu_ms_per_request"], s["server_cpu_ms_per_request"]) == (1.0, 10.0)
    assert (s["server_cores_busy"], s["other_processes_cores_busy"]) == (0.02, 0.25)


def _results() -> dict[str, object]:
    def level(rps: float, p50: float, errors: int = 0) -> dict[str, object]:
        lat = summarise([p50] * 10)
        return {"clients": 1, "ok": 10, "rps": rps, "errors": errors, "latency_ms": lat, "server_total_ms": lat,
                "cache_hit_rate": 1.0, "client_cpu_ms_per_request": 0.1, "server_cpu_ms_per_request": 1.0,
                "server_cores_busy": 0.5, "other_processes_cores_busy": 0.0}

    return {
        "meta": {"started_at": "2026-01-01T00:00:00+00:00", "quick": False, "cpus": 2},
        "encode": {"questions": 10, "first_question": "q", "min_cosine_torch_onnx": 0.99999,
                   "min_cosine_torch_onnx_alone": 0.99999, "torch": {"load_s": 3.0, "ms": summarise([20.0])},
                   "onnx": {"load_s": 1.0, "ms": summarise([5.0])},
                   "onnx_alone": {"load_s": 1.0, "ms": summarise([3.0])}},
        "cold_start": {"runs_s": [1.5], "median_s": 1.5},
        "http": {"unique": {"1": level(150.0, 6.0), "16": level(250.0, 60.0, errors=2),
                            "64": level(260.0, 250.0, errors=7)},
                 "repeated": {"1": level(900.0, 1.0), "16": level(1500.0, 10.0)}},
        "scale": {"data": {"dim": 384, "centres": 2000, "noise": 0.35, "queries": 200, "k": 10,
                           "exact_max_vectors": 200_000},
                  "points": [{"n": 1_000_000, "index": "ivf-flat-ip", "build_s": 10.0, "search_ms": summarise([12.0]),
                              "recall_at_10": 0.97, "vectors_mib": 1465.0, "index_rss_delta_mib": 1500.0}]},
    }


def test_ratio_is_http_cache_miss_p50_over_torch_encode_p50() -> None:
    assert answer_encode_ratio(_results()) == {
        "answer_p50_ms_1_client_cache_miss": 6.0, "torch_encode_p50_ms": 20.0, "ratio": 0.3}
    assert answer_encode_ratio({}) is None


def test_targets_say_met_missed_or_not_measured() -> None:
    results = _results()
    results["ratio"] = answer_encode_ratio(results)
    by_name = {t.name: t for t in targets(results)}
    assert by_name["answer p50, 1 client, cache miss"].met is True
    assert by_name["throughput, 16 clients, cache miss"].met is True
    assert by_name["1M vectors: search p50"].met is False  # 12 ms > 10 ms
    assert by_name["1M vectors: recall@10"].met is True
    errors = by_name["HTTP errors, 1-16 clients and soak"]
    assert errors.value == 2 and errors.met is False  # 64 clients' 503s are load shedding, not counted
    assert Target("x", None, 1.0).met is None and Target("x", float("nan"), 1.0).met is None


def test_soak_errors_count_in_both_phases_and_growth_is_judged_after_the_warm_up() -> None:
    results = _results()
    quiet = {"ok": 10, "errors": 0, "rps": 5.0, "latency_ms": summarise([5.0])}
    phase = {"seconds": 10.0, "clients": 16, "rss_first_mib": 400.0, "rss_last_mib": 400.5, "rss_max_mib": 400.5}
    results["memory"] = {"soak": phase | {"rss_growth_mib": 0.5, "load": quiet,
                                          "warmup": phase | {"rss_growth_mib": 6.0, "load": quiet | {"errors": 3}}}}
    by_name = {t.name: t for t in targets(results)}
    assert by_name["HTTP errors, 1-16 clients and soak"].value == 2 + 3
    growth = by_name["server RSS growth over the soak (after its warm-up)"]
    assert growth.value == 0.5 and growth.met is True
    results["memory"]["soak"]["rss_growth_mib"] = 1.2
    assert not {t.name: t for t in targets(results)}["server RSS growth over the soak (after its warm-up)"].met
    assert "server RSS growth" not in {t.name for t in targets(_results())}  # no soak, no target


def test_a_partial_run_still_renders_and_serialises() -> None:
    full = render(_results())
    assert "cache misses" in full and "MISSED" in full and "1,000,000" in full
    assert "onnx (every core, lone question)" in full
    partial = render({"meta": {"quick": True}, "error": "ServerError: boom"})
    assert "stopped early" in partial and "not measured" in partial


def test_a_busy_machine_is_called_out() -> None:
    results = _results()
    assert "quiet machine" not in render(results)
    results["http"]["unique"]["16"]["other_processes_cores_busy"] = 0.9
    assert "up to 0.90 of the machine's cores" in render(results)


def test_json_form_has_no_nan_and_no_tuples() -> None:
    assert jsonable({"a": float("nan"), "b": (1, float("inf")), 3: [0.5]}) == {"a": None, "b": [1, None], "3": [0.5]}


def test_dig_stops_at_missing_steps() -> None:
    data = {"a": {"b": [10, {"c": 3}]}}
    assert dig(data, "a", "b", 1, "c") == 3
    assert dig(data, "a", "x", "c") is None and dig(data, "a", "b", 5) is None


def test_server_settings_from_the_command_line_are_rag_variables_only() -> None:
    assert parse_server_env(["RAG_MAX_BATCH=4", "RAG_BATCH_WINDOW_MS=0"]) == {
        "RAG_MAX_BATCH": "4", "RAG_BATCH_WINDOW_MS": "0"}
    for bad in ("MAX_BATCH=4", "RAG_MAX_BATCH", "RAG_INDEX_DIR=/elsewhere", "RAG_HOST=0.0.0.0"):
        with pytest.raises(ValueError, match="RAG_NAME=VALUE"):
            parse_server_env([bad])
