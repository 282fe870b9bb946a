"""ONNX Runtime embedder: the only module that imports ``onnxruntime`` and ``tokenizers``.

The same weights as the sentence-transformers model, exported once by
:func:`rag.embedding.export_onnx` (torch is needed only for that), verified against
the torch encoder on a probe set, and cached next to the index keyed by the
weights' sha256. Serving with it imports neither torch nor sentence-transformers,
so a service with a current index and a verified export starts in about a second.
Tokenisation uses the ``tokenizers`` library with the model's own ``tokenizer.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import DependencyError, ModelError
from rag.tokens import TokenCounter


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings from an exported ONNX graph."""

    backend = "onnx"

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        *,
        name: str,
        fingerprint: str,
        max_tokens: int,
        batch_size: int,
        lone_session: Any = None,
    ) -> None:
        self._session = session
        self._lone_session = lone_session or session
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in session.get_inputs()}
        self.name = name
        self.fingerprint = fingerprint
        self.max_tokens = max_tokens
        self.dimension = int(session.get_outputs()[0].shape[-1])
        self._batch_size = batch_size

    @classmethod
    def load(
        cls,
        onnx_path: Path,
        model_folder: Path,
        *,
        name: str,
        fingerprint: str,
        batch_size: int = 32,
        lone_threads: int = 1,
    ) -> OnnxEmbedder:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise DependencyError("the ONNX backend needs onnxruntime: pip install onnxruntime") from exc
        max_tokens = model_max_tokens(model_folder)
        try:
            tokenizer = Tokenizer.from_file(str(model_folder / "tokenizer.json"))
        except Exception as exc:
            raise ModelError(f"{model_folder / 'tokenizer.json'} cannot be read ({exc})") from exc
        tokenizer.no_padding()
        tokenizer.no_truncation()
        # One thread per run, several runs at once (InferenceSession.run is thread-safe):
        # on 2 cores that answered ~300 questions/s against ~190 with one 2-thread run at a
        # time. A question embedded while nothing else is uses a second session on
        # `lone_threads` threads: ~3.2 ms instead of ~5.8 ms for an 18-token question on 2 cores.
        session = _session(ort, onnx_path, 1)
        lone = _session(ort, onnx_path, lone_threads) if lone_threads > 1 else None
        return cls(session, tokenizer, name=name, fingerprint=fingerprint, max_tokens=max_tokens,
                   batch_size=batch_size, lone_session=lone)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(self._session, texts)

    def encode_alone(self, texts: list[str]) -> np.ndarray:
        """As :meth:`encode`, on ``lone_threads`` threads: for when nothing else is being embedded."""
        return self._encode(self._lone_session, texts)

    def _encode(self, session: Any, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # less padding
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for lo in range(0, len(order), self._batch_size):
            rows = order[lo : lo + self._batch_size]
            out[rows] = self._run(session, [encodings[i] for i in rows])
        return out

    def _run(self, session: Any, encodings: list[Any]) -> np.ndarray:
        length = min(max(len(e.ids) for e in encodings), self.max_tokens)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = min(len(e.ids), length)
            ids[row, :n] = e.ids[:n]
            mask[row, :n] = 1
            if len(e.ids) > length:  # truncated: keep the closing special token, as the model does
                ids[row, n - 1] = e.ids[-1]
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        vectors = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return np.asarray(vectors, dtype=np.float32)

    def token_counter(self) -> TokenCounter:
        tokenizer = self._tokenizer

        def count(text: str) -> int:
            return len(tokenizer.encode(text).ids)

        return TokenCounter(f"model:{self.name}", count)


def _session(ort: Any, onnx_path: Path, threads: int) -> Any:
    """An inference session whose runs use ``threads`` threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Helper threads spin between the steps of a run (fast hand-offs) but stop when it
    # ends: left spinning, they held a core the HTTP side of the next answer needed.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    try:
        return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"ONNX model {onnx_path} cannot be loaded ({exc}): delete it to re-export") from exc


def fuse_transformer(path: Path, *, heads: int, hidden: int) -> dict[str, int]:
    """Rewrite the exported graph at ``path`` with ONNX Runtime's transformer fusions.

    Attention, skip + layer normalisation and bias + GELU become single operators: the
    same arithmetic (probe cosine with torch still 0.99999+) in a few dozen operators
    instead of a few hundred. That matters most when a run is split across threads:
    a lone 18-token question on 2 cores took ~3.4 ms instead of ~4.5 ms. ``heads`` and
    ``hidden`` come from the model's config (0: let the optimizer read them off the graph).
    Returns how many of each fused operator the graph now has.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    tmp = path.with_name(path.name + ".fused")
    try:
        model.save_model_to_file(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {name: count for name, count in model.get_fused_operator_statistics().items() if count}


def model_max_tokens(folder: Path) -> int:
    """The model's window from its sentence-transformers config (512 when unstated)."""
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return 512


def mean_pooling_only(folder: Path) -> bool:
    """True when the model is a transformer + mean pooling (+ normalisation): what the export reproduces."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return False
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if not kinds or kinds[0] != "Transformer" or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        return False
    pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
    if pooling is None:
        return False
    config = folder / pooling.get("path", "1_Pooling") / "config.json"
    if not config.is_file():
        return False
    modes = json.loads(config.read_text(encoding="utf-8"))
    others = [k for k, v in modes.items() if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"]
    return bool(modes.get("pooling_mode_mean_tokens")) and not others
