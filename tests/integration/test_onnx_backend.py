"""The ONNX backend: exported from the bundled weights, verified against torch, cached,
and served without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.config import EmbeddingConfig
from rag.embedding import load_embedder
from rag.errors import ModelError
from rag.onnx_backend import PROBE_TEXTS, onnx_cache_path, verify
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_onnx_matches_torch_and_is_cached(onnx_cache: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    onnx = load_embedder(EmbeddingConfig(backend="onnx"), onnx_cache)
    assert onnx.backend == "onnx" and onnx.dimension == embedder.dimension == 384
    assert verify(onnx, embedder) >= 0.9999
    path = onnx_cache_path(onnx_cache, "all-MiniLM-L6-v2", embedder.fingerprint)
    marker = json.loads(path.with_suffix(".verified.json").read_text())
    assert marker["min_probe_cosine"] >= 0.9999 and marker["probes"] == len(PROBE_TEXTS)
    # same token counts as the model's own tokenizer, so chunk budgets agree
    for text in PROBE_TEXTS:
        assert onnx.token_counter().count(text) == embedder.token_counter().count(text)
    # batches of different lengths give the same vectors as one at a time
    texts = list(PROBE_TEXTS)
    together = onnx.encode(texts)
    alone = np.stack([onnx.encode([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # the every-core session used for a lone question gives the same vectors
    np.testing.assert_allclose(onnx.encode_alone(texts), together, atol=1e-5)


def test_export_is_fused_and_replaces_exports_made_another_way(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    import onnx

    stale = tmp_path / f"all-minilm-l6-v2-{embedder.fingerprint[:16]}-opset13.onnx"
    stale.write_bytes(b"an export made by an earlier version")
    stale.with_suffix(".verified.json").write_text("{}")
    in_progress = tmp_path / f"all-minilm-l6-v2-{embedder.fingerprint[:16]}-opset17.tmp-1"
    in_progress.write_bytes(b"another process is exporting")
    load_embedder(EmbeddingConfig(backend="onnx"), tmp_path)
    path = onnx_cache_path(tmp_path, "all-MiniLM-L6-v2", embedder.fingerprint)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= ops  # fused: a few big operators
    assert not stale.exists() and not stale.with_suffix(".verified.json").exists()
    assert in_progress.exists()


def test_tampered_export_is_re_exported(onnx_cache: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    path = onnx_cache_path(onnx_cache, "all-MiniLM-L6-v2", embedder.fingerprint)
    load_embedder(EmbeddingConfig(backend="onnx"), onnx_cache)
    path.write_bytes(path.read_bytes()[:1000])  # truncated: the marker's hash no longer matches
    again = load_embedder(EmbeddingConfig(backend="onnx"), onnx_cache)
    assert verify(again, embedder) >= 0.9999


def test_onnx_refused_for_a_model_it_cannot_reproduce(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"},
                                                     {"type": "sentence_transformers.models.Dense"}]))
    with pytest.raises(ModelError, match="not a mean-pooling model"):
        load_embedder(EmbeddingConfig(model=str(folder), backend="onnx"), tmp_path / "cache")


def test_serving_path_does_not_import_torch(index_dir: Path) -> None:
    """With a current index and a verified export, answering never imports torch."""
    code = (
        "import sys; from rag.config import Settings; from rag.pipeline import Pipeline; "
        "p = Pipeline.from_settings(Settings.from_env()); a = p.answer('renewal of an EA coming up'); "
        "print(p.embedder.backend, a.citations[0].location.slide, 'torch' in sys.modules, "
        "'sentence_transformers' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_INDEX_DIR": str(index_dir)}
    first = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split()[:2] == ["onnx", "8"]  # the first run exports (and may import torch)
    second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.stdout.split() == ["onnx", "8", "False", "False"], second.stderr
