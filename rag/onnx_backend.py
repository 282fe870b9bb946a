"""ONNX Runtime embedder: the only module that imports ``onnxruntime`` and ``tokenizers``.

The same weights as the sentence-transformers model, exported once with torch's exporter
(:func:`rag.embedding.export_torch_graph`: torch is needed only for that), fused,
verified against the torch encoder on a probe set, and cached next to the index keyed by
the weights' sha256 (:func:`load_onnx_embedder`). Serving with it imports neither torch
nor sentence-transformers, so a service with a current index and a verified export
starts in about a second. Tokenisation uses the ``tokenizers`` library with the model's
own ``tokenizer.json``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.config import EmbeddingConfig
from rag.errors import DependencyError, ModelError
from rag.hashing import file_sha256
from rag.tokens import TokenCounter

if TYPE_CHECKING:
    from rag.embedding import Embedder

log = logging.getLogger(__name__)

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
transformer optimizer (see :func:`fuse_transformer`)."""

TorchExport = Callable[[Path, Path, int], tuple[int, int]]
"""(model folder, output file, opset) -> (attention heads, hidden size): writes the model's
ONNX graph with torch's exporter (:func:`rag.embedding.export_torch_graph`)."""


def load_onnx_embedder(
    cfg: EmbeddingConfig,
    folder: Path,
    fingerprint: str,
    cache_dir: Path,
    *,
    reference: Callable[[], Embedder],
    export: TorchExport,
) -> OnnxEmbedder:
    """The model in ``folder`` on ONNX Runtime, from the verified export in ``cache_dir``.

    Without one (or when the export no longer matches its marker's hash), the model is
    exported (``export``), fused and compared with ``reference()``, the torch encoder, on
    :data:`PROBE_TEXTS`; an export that differs is deleted and refused (:class:`ModelError`).
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise DependencyError("onnxruntime is not installed: pip install onnxruntime") from exc
    if not mean_pooling_only(folder):
        raise ModelError(f"{cfg.model!r} is not a mean-pooling model; the ONNX export supports only those")
    path = onnx_cache_path(cache_dir, cfg.model, fingerprint)
    marker = path.with_suffix(".verified.json")
    if not (path.is_file() and marker.is_file() and _marker_matches(marker, path)):
        torch_embedder = reference()
        export_onnx(folder, path, export)
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


def onnx_cache_path(cache_dir: Path, model: str, fingerprint: str) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in Path(model).name.lower()).strip("-")
    return cache_dir / f"{slug}-{fingerprint[:16]}-opset{ONNX_OPSET}-{ONNX_GRAPH}.onnx"


def export_onnx(folder: Path, out: Path, export: TorchExport) -> None:
    """Export transformer + mean pooling + L2 normalisation to ``out`` with torch's exporter
    (``export``), then fuse it (:data:`ONNX_GRAPH`). Written under a temporary name and
    renamed when done, so a half-written export is never loaded."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp-{os.getpid()}")
    heads, hidden = export(folder, tmp, ONNX_OPSET)
    try:
        fused = fuse_transformer(tmp, heads=heads, hidden=hidden)
        log.info("ONNX export of %s fused: %s", folder.name, fused or "nothing to fuse")
    except Exception as exc:  # a speed-up only: the plain export computes the same vectors
        log.warning("ONNX export of %s left unfused (%s)", folder.name, exc)
    os.replace(tmp, out)


def verify(candidate: Embedder, reference: Embedder) -> float:
    """Smallest cosine between the two embedders' vectors over the probe texts."""
    a = candidate.encode(list(PROBE_TEXTS))
    b = reference.encode(list(PROBE_TEXTS))
    return float(np.min(np.sum(a * b, axis=1)))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


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
