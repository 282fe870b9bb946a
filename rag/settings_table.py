"""The ``RAG_*`` settings: one declarative row per environment variable, and its parsers.

A :class:`Setting` names the variable, the field of :class:`~rag.config.Settings` it
fills (``"retrieval.top_k"`` is the ``top_k`` of the ``retrieval`` part, a
:class:`~rag.config.RetrievalConfig`), the parser that turns its text into a value and
refuses what is out of range, and the one line the README's configuration table shows.

Defaults are not repeated here: a variable that is not set leaves its field at the
default of the config dataclass, documented where the field is declared. This module
reads nothing: :meth:`rag.config.Settings.from_env` is the one reader of the environment,
and walks :data:`SETTINGS` in order. ``python tools/settings_table.py`` prints the
README's table from these rows; ``tests/unit/test_settings_readme.py`` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rag.errors import ConfigError


class Parser(Protocol):
    """Reads one variable's text into the value of its field."""

    @property
    def values(self) -> str:
        """What the variable accepts, as the README's table says it."""
        ...

    def is_unset(self, raw: str) -> bool:
        """Whether this text means "not set" (the field keeps its default)."""
        ...

    def parse(self, name: str, raw: str) -> Any:
        """The value, or a :class:`ConfigError` that names ``name`` and the offending text."""
        ...


@dataclass(frozen=True, slots=True)
class Text:
    """Taken as given; set to an empty string, the variable is still set."""

    values: str = "text"

    def is_unset(self, raw: str) -> bool:
        return False

    def parse(self, name: str, raw: str) -> str:
        return raw


@dataclass(frozen=True, slots=True)
class PathValue:
    """A path, relative to the working directory unless absolute."""

    values: str = "path"

    def is_unset(self, raw: str) -> bool:
        return False

    def parse(self, name: str, raw: str) -> Path:
        return Path(raw)


@dataclass(frozen=True, slots=True)
class Int:
    """A whole number at least ``minimum``; blank means unset."""

    minimum: int

    @property
    def values(self) -> str:
        return f"whole number ≥ {self.minimum}"

    def is_unset(self, raw: str) -> bool:
        return raw.strip() == ""

    def parse(self, name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number") from None
        if value < self.minimum:
            raise ConfigError(f"{name}={value} must be at least {self.minimum}")
        return value


@dataclass(frozen=True, slots=True)
class Number:
    """A number, at least ``minimum`` when one is given (which also refuses ``nan``);
    blank means unset."""

    minimum: float | None = None

    @property
    def values(self) -> str:
        return "number" if self.minimum is None else f"number ≥ {self.minimum:g}"

    def is_unset(self, raw: str) -> bool:
        return raw.strip() == ""

    def parse(self, name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if self.minimum is not None and not value >= self.minimum:  # not >=: nan fails too
            raise ConfigError(f"{name}={value} must be at least {self.minimum:g}")
        return value


TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``, any case);
    blank means unset."""

    values: str = "`true` / `false`"

    def is_unset(self, raw: str) -> bool:
        return raw.strip() == ""

    def parse(self, name: str, raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise ConfigError(f"{name}={raw!r} must be true or false")


@dataclass(frozen=True, slots=True)
class Choice:
    """One of ``allowed``, exactly as written (an empty value is refused)."""

    allowed: tuple[str, ...]

    @property
    def values(self) -> str:
        return " / ".join(f"`{a}`" for a in self.allowed)

    def is_unset(self, raw: str) -> bool:
        return False

    def parse(self, name: str, raw: str) -> str:
        if raw not in self.allowed:
            raise ConfigError(f"{name}={raw!r} must be one of: {', '.join(self.allowed)}")
        return raw


@dataclass(frozen=True, slots=True)
class CommaList:
    """Comma-separated items, each stripped; empty items are dropped."""

    values: str = "comma-separated"

    def is_unset(self, raw: str) -> bool:
        return False

    def parse(self, name: str, raw: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class KeysFile:
    """A file with one key per line; blank lines and ``#`` comments are skipped. Only an
    empty value means unset (a path of spaces is a path that cannot be read)."""

    values: str = "path"

    def is_unset(self, raw: str) -> bool:
        return raw == ""

    def parse(self, name: str, raw: str) -> tuple[str, ...]:
        path = Path(raw)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{name}={path} cannot be read ({exc.strerror})") from exc
        return tuple(s for line in lines if (s := line.strip()) and not s.startswith("#"))


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A ``postgresql://`` (or ``postgres://``) URL; empty means the embedded store. Only its
    shape is checked here: whether the server answers is :mod:`rag.pg_store`'s to say."""

    values: str = "`postgresql://user:password@host:5432/db`"

    def is_unset(self, raw: str) -> bool:
        return raw.strip() == ""

    def parse(self, name: str, raw: str) -> str:
        from urllib.parse import urlsplit

        value = raw.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ConfigError(f"{name} is not a valid URL ({exc}): postgresql://user:password@host:5432/db") from None
        if parts.scheme not in ("postgresql", "postgres"):
            shown = f"{parts.scheme}://…" if parts.scheme else "a value without postgresql://"
            raise ConfigError(
                f"{name} must be a postgresql:// URL (postgresql://user:password@host:5432/db), got {shown}; "
                "unset it for the embedded FAISS store"
            )
        if not parts.path.strip("/") and "dbname=" not in parts.query:
            raise ConfigError(f"{name} names no database: postgresql://user:password@host:5432/<database>")
        return value


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``RAG_*`` variable: where its value goes and how it is read."""

    env: str
    """The variable's name."""

    field: str
    """The field it fills: ``"part.name"`` for a field of one of the per-stage configs,
    ``"name"`` for a field of :class:`~rag.config.Settings` itself."""

    parser: Parser
    """Turns the variable's text into the field's value; says what it accepts."""

    doc: str
    """What the setting does, in one line (the README's "meaning" column)."""

    default_note: str = ""
    """Words shown after the default when the value alone does not say what it means."""

    extends: bool = False
    """Added to what earlier rows gave the same field, instead of replacing it
    (``RAG_API_KEYS_FILE`` adds its keys to ``RAG_API_KEYS``)."""

    @property
    def part(self) -> str:
        """The :class:`~rag.config.Settings` attribute that holds the field ("" for its own)."""
        return self.field.rpartition(".")[0]

    @property
    def name(self) -> str:
        """The field's name inside its part."""
        return self.field.rpartition(".")[2]


SETTINGS: tuple[Setting, ...] = (
    # Where things are.
    Setting("RAG_CORPUS_DIR", "corpus_dir", PathValue(),
            "folder of guidance documents (`.md`, `.txt`, `.pptx`, `.pdf`, `.docx`, `.html`)"),
    Setting("RAG_INDEX_DIR", "index_dir", PathValue(), "where builds are written"),
    Setting("RAG_CALIBRATION_FILE", "calibration_file", PathValue(),
            "abstention threshold written by `rag eval calibrate`"),
    Setting("RAG_DATA_DIR", "data_dir", PathValue(), "where the feedback database (`feedback.sqlite3`) is kept"),
    # Embedding.
    Setting("RAG_EMBED_MODEL", "embedding.model", Text("model name or folder"),
            "the bundled model, or a local folder / cached name of another sentence-transformers model"),
    Setting("RAG_EMBED_BATCH_SIZE", "embedding.batch_size", Int(1), "texts per forward pass while indexing"),
    Setting("RAG_EMBED_DEVICE", "embedding.device", Text("torch device"), "where torch runs the model"),
    Setting("RAG_EMBED_BACKEND", "embedding.backend", Choice(("auto", "onnx", "torch")),
            "ONNX Runtime or sentence-transformers; `auto`: ONNX when installed and verified, else torch"),
    Setting("RAG_BATCH_WINDOW_MS", "embedding.batch_window_ms", Number(),
            "extra wait for a micro-batch of concurrent questions to fill"),
    Setting("RAG_MAX_BATCH", "embedding.max_batch", Int(1), "upper bound of one micro-batch of questions"),
    Setting("RAG_ENCODE_WORKERS", "embedding.encode_workers", Int(1),
            "question batches embedded at once, one thread each (one per core)"),
    Setting("RAG_LONE_QUESTION_THREADS", "embedding.lone_question_threads", Int(0),
            "ONNX threads for a question that arrives while nothing else is being embedded; "
            "`1` turns that second session off",
            default_note="every core"),
    # Chunking.
    Setting("RAG_TOKEN_ENCODING", "chunking.encoding", Text("tiktoken encoding"),
            "tiktoken encoding that bounds chunk size"),
    Setting("RAG_CHUNK_MAX_TOKENS", "chunking.max_tokens", Int(16), "chunk size bound (tokens of the encoding above)"),
    Setting("RAG_CHUNK_OVERLAP_SENTENCES", "chunking.overlap_sentences", Int(0),
            "sentences repeated when a long section is split"),
    # Retrieval.
    Setting("RAG_TOP_K", "retrieval.top_k", Int(1), "passages read by the answerer"),
    Setting("RAG_CANDIDATES", "retrieval.candidates", Int(1), "depth of each side (dense, BM25) read for candidates"),
    Setting("RAG_DENSE_WEIGHT", "retrieval.dense_weight", Number(),
            "weight of the question–chunk cosine in a chunk's score"),
    Setting("RAG_HEADING_WEIGHT", "retrieval.heading_weight", Number(),
            "weight of the question–heading cosine (the scenario's name, else the slide title)"),
    Setting("RAG_SENTENCE_WEIGHT", "retrieval.sentence_weight", Number(),
            "weight of the cosine of the question and the chunk's closest sentence"),
    Setting("RAG_LEXICAL_WEIGHT", "retrieval.lexical_weight", Number(),
            "weight of BM25, relative to the best BM25 score for the question"),
    Setting("RAG_ROLE_WEIGHT", "retrieval.role_weight", Number(),
            "bonus of a chunk whose section holds the part the question asks about"),
    # Answers.
    Setting("RAG_ANSWER_MAX_WORDS", "answer.max_words", Int(10), "soft length of an answer (at most 5 sentences)"),
    Setting("RAG_MIN_EVIDENCE", "answer.min_evidence", Number(),
            "abstain below this evidence (best question–sentence cosine + 0.1 × log(1 + BM25)); "
            "set, it wins over the calibration file",
            default_note="when the calibration file has no value"),
    # The index.
    Setting("RAG_AUTO_REBUILD", "index.auto_rebuild", Bool(),
            "rebuild a missing or stale index on use; `false` refuses with a message"),
    Setting("RAG_EXACT_MAX_VECTORS", "index.exact_max_vectors", Int(1),
            "above this many chunks the FAISS index is IVF (approximate)"),
    # The server.
    Setting("RAG_HOST", "server.host", Text("address"), "`rag serve`'s bind address"),
    Setting("RAG_PORT", "server.port", Int(1), "`rag serve`'s port"),
    Setting("RAG_WORKERS", "server.workers", Int(1), "`rag serve`'s worker processes"),
    Setting("RAG_API_KEYS", "server.api_keys", CommaList(),
            "API keys; when there are any, every `/v1/*` call needs one"),
    Setting("RAG_API_KEYS_FILE", "server.api_keys", KeysFile(),
            "a file of API keys, one per line (`#` starts a comment), added to `RAG_API_KEYS`",
            extends=True),
    Setting("RAG_ADMIN_KEYS", "server.admin_keys", CommaList(),
            "keys for `/v1/admin/*`; none disables those endpoints"),
    Setting("RAG_WATCH_SECONDS", "server.watch_seconds", Number(),
            "poll the corpus this often and reindex on change (`rag serve --watch`)",
            default_note="off"),
    Setting("RAG_RATE_LIMIT_PER_MINUTE", "server.rate_limit_per_minute", Int(0),
            "requests a minute per API key (a burst of that many, then one every 60/n s); without keys, "
            "per client address for callers from other machines; `0` turns it off"),
    Setting("RAG_RATE_LIMIT_LOOPBACK", "server.rate_limit_loopback", Bool(),
            "without keys, also limit callers on this machine (127.0.0.0/8, ::1); off by default, "
            "so one local app or `rag eval --api` is never refused"),
    Setting("RAG_CORS_ORIGINS", "server.cors_origins", CommaList(),
            "browser origins allowed to call the API; none: CORS is off"),
    Setting("RAG_LOG_FORMAT", "server.log_format", Choice(("text", "json")),
            "`json` for JSON-lines access logs"),
    Setting("RAG_MAX_IN_FLIGHT", "server.max_in_flight", Int(1),
            "pipeline calls at once per worker; beyond it requests wait briefly, then get 503 `overloaded`"),
    Setting("RAG_MAX_QUEUE_WAIT_MS", "server.max_queue_wait_ms", Number(0.0),
            "how long a request may wait for a place before the 503"),
    Setting("RAG_REQUEST_TIMEOUT_MS", "server.request_timeout_ms", Number(1.0),
            "a pipeline call slower than this answers 503 `timeout`"),
    # The shared store (several replicas, one PostgreSQL with pgvector).
    Setting("RAG_STORE", "store.url", StoreUrl(),
            "PostgreSQL with pgvector holding chunks, vectors, BM25 terms, index versions and feedback for "
            "every replica; unset: FAISS + BM25 under `RAG_INDEX_DIR`, feedback in SQLite",
            default_note="embedded store"),
    Setting("RAG_STORE_POLL_SECONDS", "store.poll_seconds", Number(0.0),
            "how often a replica checks the store's current index version and switches to a new one; `0`: never"),
    Setting("RAG_STORE_EF_SEARCH", "store.ef_search", Int(1), "pgvector `hnsw.ef_search` of every search"),
    Setting("RAG_STORE_HNSW_M", "store.hnsw_m", Int(2), "HNSW links per node of a new build"),
    Setting("RAG_STORE_HNSW_EF_CONSTRUCTION", "store.hnsw_ef_construction", Int(4),
            "HNSW candidate list while building"),
    Setting("RAG_STORE_BUILD_MEMORY", "store.build_memory", Text("PostgreSQL size"),
            "`maintenance_work_mem` of the session that builds the HNSW index"),
    Setting("RAG_STORE_POOL_SIZE", "store.pool_size", Int(1), "database connections each replica keeps open"),
)
"""Every ``RAG_*`` variable, in the order :meth:`~rag.config.Settings.from_env` reads them
(the first bad value stops it) and the README lists them."""
