"""The PostgreSQL store's pure helpers and the scale bench's store options (no server here)."""

from __future__ import annotations

import argparse
import struct

import numpy as np
import pytest

from bench.scale import parse_stores, render
from rag.config import StoreConfig, redact_url
from rag.pg_search import vector_from_binary, vector_literal


def test_passwords_never_shown() -> None:
    assert redact_url("postgresql://rag:s3cret@db:5432/rag?sslmode=require") == "postgresql://rag:***@db:5432/rag?sslmode=require"
    assert "s3cret" not in redact_url("postgresql://rag@db/rag?password=s3cret&sslmode=require")
    assert redact_url("postgresql://rag@db/rag") == "postgresql://rag@db/rag"
    assert StoreConfig(url="postgres://a:b@h/d").shown_url == "postgres://a:***@h/d"
    assert StoreConfig().shown_url == ""


def test_vectors_cross_the_wire_unchanged() -> None:
    v = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    parsed = np.asarray(vector_literal(v)[1:-1].split(","), dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(parsed, v)  # the text form parses back to the same float32s
    binary = struct.pack(">hh", 384, 0) + v.astype(">f4").tobytes()  # pgvector's send format
    np.testing.assert_array_equal(vector_from_binary(binary), v)


def test_scale_stores_are_checked_and_rendered() -> None:
    assert parse_stores("faiss, postgres") == ("faiss", "postgres")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_stores("faiss,milvus")
    search = {"p50": 1.0, "p95": 2.0}
    text = render({
        "points": [{"store": "faiss", "n": 1000, "index": "flat-ip", "build_s": 0.1, "search_ms": search,
                    "recall_at_10": 1.0, "vectors_mib": 1.5, "index_rss_delta_mib": 1.6}],
        "store_points": [{"store": "postgres", "n": 1000, "index": "pgvector-hnsw-ip", "build_s": 2.0, "load_s": 0.1,
                          "search_ms": search, "recall_at_10": 0.99, "table_mib": 2.0, "index_mib": 3.0,
                          "by_ef_search": [{"ef_search": 40, "search_ms": search, "recall_at_10": 0.95}]}],
    })
    assert "| faiss | 1,000 | flat-ip |" in text and "| postgres | 1,000 | pgvector-hnsw-ip |" in text
    assert "ef_search=40" in text
