"""The built index: build, save, load, search, manifest check. The only module that imports faiss.

On disk (``index/``)::

    CURRENT                  name of the build in use (replaced atomically)
    builds/<version>-<time>/ one complete build:
        manifest.json        what it was built from + sha256 of every artifact below
        chunks.jsonl         the chunks, in FAISS row order
        dense.faiss          chunk vectors (exact inner product, or IVF for big corpora)
        sentences.npy        one vector per distinct sentence, for answer assembly (blended with
                             the questions it answers, where corpus/questions.json lists some)
        sentences.json       (source, start, end) of each row of sentences.npy
        sources.json         documents with their slides/pages, for browsing
        acronyms.json        acronyms mined from the corpus plus the glossary
        synonyms.json        the domain's synonym groups (corpus/synonyms.json) the lexical side uses
        questions.json       the questions per sentence (corpus/questions.json) blended into sentences.npy
        headings.npy         one vector per distinct heading (a scenario's name, else the slide title)
        headings.json        the heading texts, and each chunk's row in headings.npy
        bm25/                the lexical index

A build is written to a temporary folder (``builds/.tmp-<pid>-<random>``), renamed
into ``builds/`` and only then named in ``CURRENT``; a crash at any point leaves the
previous build in use. The next successful build removes temporary folders whose
builder is no longer running (or that are over an hour old). Whether the index is
current, and building it when it is not, is :func:`rag.builder.ensure_index`'s.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.datatypes import (
    Chunk,
    Manifest,
    Part,
    Place,
    SectionKey,
    Sentence,
    SourceInfo,
    chunk_from_dict,
    place_of,
    section_key,
    to_dict,
)
from rag.errors import CorpusError, DependencyError, IndexCorruptError, IndexNotFoundError
from rag.hashing import file_sha256
from rag.leftovers import TMP_PREFIX, remove_abandoned
from rag.lexical import LexicalIndex
from rag.sentence_questions import SentenceQuestions
from rag.sentence_questions import parse as parse_questions
from rag.synonyms import Synonyms, parse

FORMAT_VERSION = 2
CURRENT = "CURRENT"
BUILDS = "builds"
IVF_NPROBE = 16
"""Inverted lists visited per search of an approximate index: recall@10 ≥ 0.95 at a
million chunks with searches under a few milliseconds (see ``bench/scale.py``)."""
IVF_TRAIN_PER_LIST = 64

SentenceKey = tuple[str, int, int]


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise DependencyError("faiss is not installed: pip install faiss-cpu") from exc
    return faiss


@dataclass(frozen=True)
class BuildSpec:
    """Everything that changes what an index contains; compared with the manifest on load."""

    model_name: str
    model_sha256: str
    dimension: int
    tokenizer: str
    chunking: Mapping[str, Any]
    files: Mapping[str, str]


class DenseSearch(Protocol):
    """What retrieval and the builder need from the dense side: :class:`DenseIndex` (FAISS, in
    the index folder) or ``rag.pg_search.PgDenseIndex`` (pgvector HNSW, in PostgreSQL)."""

    @property
    def kind(self) -> str: ...

    @property
    def size(self) -> int: ...

    def vectors(self) -> np.ndarray: ...

    def vector(self, row: int) -> np.ndarray: ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...


class LexicalSearch(Protocol):
    """What retrieval needs from the BM25 side: :class:`~rag.lexical.LexicalIndex` (bm25s files)
    or ``rag.pg_search.PgLexicalIndex`` (the same weights in PostgreSQL)."""

    def search(self, question: str, k: int) -> list[tuple[int, float]]: ...


class DenseIndex:
    """Inner-product search over L2-normalised vectors (cosine similarity)."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, exact_max_vectors: int) -> DenseIndex:
        faiss = _faiss()
        n, dim = vectors.shape
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if n <= exact_max_vectors:
            index = faiss.IndexFlatIP(dim)
        else:
            # Inverted file: sqrt(n) clusters, k-means trained on a fixed sample.
            nlist = int(np.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).choice(n, min(n, nlist * IVF_TRAIN_PER_LIST), replace=False)
            index.train(vectors[np.sort(sample)])
            index.nprobe = IVF_NPROBE
        index.add(vectors)
        if hasattr(index, "make_direct_map"):
            index.make_direct_map()  # lets vector(row) reconstruct
        return cls(index)

    @property
    def kind(self) -> str:
        return "flat-ip" if type(self._index).__name__ == "IndexFlatIP" else "ivf-flat-ip"

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def vectors(self) -> np.ndarray:
        if not self.size:
            return np.zeros((0, self._index.d), np.float32)
        return self._index.reconstruct_n(0, self._index.ntotal)

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(int(row)), dtype=np.float32)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """``(row, cosine)`` of the ``k`` nearest rows, best first."""
        if self.size == 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, rows = self._index.search(q, min(k, self.size))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        faiss = _faiss()
        # Memory-mapped: several worker processes share the pages of one file.
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        if hasattr(index, "nprobe"):
            index.nprobe = IVF_NPROBE
            index.make_direct_map()
        return cls(index)


@dataclass(frozen=True)
class Index:
    """A loaded (or freshly built) index, ready to search."""

    manifest: Manifest
    chunks: tuple[Chunk, ...]
    dense: DenseSearch
    lexical: LexicalSearch
    sentence_vectors: np.ndarray
    sentence_rows: Mapping[SentenceKey, int]
    sources: tuple[SourceInfo, ...]
    acronyms: Mapping[str, str]
    synonyms: Synonyms
    heading_vectors: np.ndarray
    """One unit vector per distinct heading: what the chunk's slide is about (a scenario's
    name, else the slide or page title)."""
    heading_rows: np.ndarray
    """For each chunk row, its heading's row in :attr:`heading_vectors`."""
    headings: tuple[str, ...] = ()
    questions: SentenceQuestions = field(default_factory=SentenceQuestions)
    """The questions per sentence blended into :attr:`sentence_vectors` (:mod:`rag.sentence_questions`)."""
    path: Path | None = None
    store_version: int | None = None
    """The version's id in the PostgreSQL store (``RAG_STORE``); None for the index folder."""

    @cached_property
    def _rows_by_id(self) -> Mapping[str, int]:
        return {c.chunk_id: row for row, c in enumerate(self.chunks)}

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> tuple[Chunk, ...]:
        """The chunks with these ids, in the order given; unknown ids (another index version's)
        are left out."""
        rows = self._rows_by_id
        return tuple(self.chunks[rows[c]] for c in chunk_ids if c in rows)

    @cached_property
    def part_sections(self) -> Mapping[Place, tuple[tuple[int, ...], ...]]:
        """Chunk rows of each slide (or page), by section in document order."""
        sections: dict[SectionKey, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            sections.setdefault(section_key(chunk), []).append(row)
        parts: dict[Place, list[tuple[int, ...]]] = {}
        in_document_order = sorted(
            sections.values(), key=lambda r: (self.chunks[r[0]].location.source, self.chunks[r[0]].start)
        )
        for rows in in_document_order:
            parts.setdefault(place_of(self.chunks[rows[0]]), []).append(
                tuple(sorted(rows, key=lambda r: self.chunks[r].start)))
        return {key: tuple(rows) for key, rows in parts.items()}


def sentence_key(source: str, sentence: Sentence) -> SentenceKey:
    return (source, sentence.start, sentence.end)


def distinct_sentences(chunks: Sequence[Chunk]) -> list[tuple[SentenceKey, str]]:
    """Each sentence once (overlapping chunks share sentences), in corpus order, with the
    text it is embedded as (:func:`sentence_embed_text`)."""
    seen: dict[SentenceKey, str] = {}
    for chunk in chunks:
        for sentence in chunk.sentences:
            seen.setdefault(sentence_key(chunk.location.source, sentence), sentence_embed_text(chunk, sentence))
    return list(seen.items())


def sentence_embed_text(chunk: Chunk, sentence: Sentence) -> str:
    """A sentence under its chunk's header (document — slide title — section), as chunks
    are embedded: "Share the lead with partner." reads differently in each scenario. On the
    dev gold set this put 60% of the key facts of the right slide in its best three
    sentences, against 49% for the sentence alone."""
    header = chunk.embed_text[: len(chunk.embed_text) - len(chunk.text)].rstrip("\n")
    return f"{header}\n{sentence.text}" if header else sentence.text


def index_version(spec: BuildSpec, chunks: Sequence[Chunk]) -> str:
    """Stable for the same corpus and settings; changes when either does."""
    h = hashlib.sha256(json.dumps(asdict(spec) | {"format": FORMAT_VERSION}, sort_keys=True).encode())
    for chunk in chunks:
        h.update(chunk.chunk_id.encode())
    return h.hexdigest()[:12]


def assemble_index(
    *,
    spec: BuildSpec,
    chunks: Sequence[Chunk],
    chunk_vectors: np.ndarray,
    sentences: Sequence[tuple[SentenceKey, str]],
    sentence_vectors: np.ndarray,
    sources: Sequence[SourceInfo],
    acronyms: Mapping[str, str],
    synonyms: Synonyms,
    headings: Sequence[str],
    heading_vectors: np.ndarray,
    exact_max_vectors: int,
    build_seconds: float,
    questions: SentenceQuestions,
) -> Index:
    """An in-memory index from embedded chunks and sentences."""
    dense = DenseIndex.build(chunk_vectors, exact_max_vectors)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        index_version=index_version(spec, chunks),
        model_name=spec.model_name,
        model_sha256=spec.model_sha256,
        dimension=spec.dimension,
        tokenizer=spec.tokenizer,
        chunking=dict(spec.chunking),
        files=dict(spec.files),
        n_documents=len(sources),
        n_chunks=len(chunks),
        n_sentences=len(sentences),
        index_type=dense.kind,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(build_seconds, 3),
    )
    return Index(
        manifest=manifest,
        chunks=tuple(chunks),
        dense=dense,
        lexical=LexicalIndex.build([c.embed_text for c in chunks], synonyms),
        sentence_vectors=sentence_vectors,
        sentence_rows={key: row for row, (key, _) in enumerate(sentences)},
        sources=tuple(sources),
        acronyms=dict(acronyms),
        synonyms=synonyms,
        heading_vectors=np.ascontiguousarray(heading_vectors, dtype=np.float32),
        heading_rows=heading_rows(chunks, sources, headings),
        headings=tuple(headings),
        questions=questions,
    )


def chunk_heading(chunk: Chunk, parts: Mapping[Place, Part]) -> str:
    """What a chunk's slide is about: its scenario's name when it has one, else its title."""
    part = parts.get(place_of(chunk))
    return (part.scenario if part is not None and part.scenario else None) or chunk.location.title


def distinct_headings(chunks: Sequence[Chunk], sources: Sequence[SourceInfo]) -> list[str]:
    parts = _parts(sources)
    return list(dict.fromkeys(chunk_heading(c, parts) for c in chunks))


def heading_rows(chunks: Sequence[Chunk], sources: Sequence[SourceInfo], headings: Sequence[str]) -> np.ndarray:
    parts = _parts(sources)
    row = {h: i for i, h in enumerate(headings)}
    return np.asarray([row[chunk_heading(c, parts)] for c in chunks], dtype=np.int64)


def _parts(sources: Sequence[SourceInfo]) -> dict[Place, Part]:
    return {(s.source, p.slide, p.page): p for s in sources for p in s.parts}


def stale_reasons(manifest: Manifest, spec: BuildSpec) -> list[str]:
    """Why an index no longer matches the settings and corpus (empty when current)."""
    reasons = []
    if manifest.format_version != FORMAT_VERSION:
        reasons.append(f"index format {manifest.format_version}, this version reads {FORMAT_VERSION}")
    if manifest.model_name != spec.model_name or manifest.model_sha256 != spec.model_sha256:
        reasons.append(f"built with model {manifest.model_name!r}, settings ask for {spec.model_name!r}"
                       if manifest.model_name != spec.model_name
                       else f"model {spec.model_name!r} weights changed")
    if manifest.tokenizer != spec.tokenizer:
        reasons.append(f"chunks counted with {manifest.tokenizer}, now {spec.tokenizer}")
    if dict(manifest.chunking) != dict(spec.chunking):
        reasons.append(f"chunking settings {dict(manifest.chunking)} changed to {dict(spec.chunking)}")
    old, new = dict(manifest.files), dict(spec.files)
    for name in sorted(new.keys() - old.keys()):
        reasons.append(f"corpus file {name} is new")
    for name in sorted(old.keys() - new.keys()):
        reasons.append(f"corpus file {name} was removed")
    for name in sorted(k for k in old.keys() & new.keys() if old[k] != new[k]):
        reasons.append(f"corpus file {name} changed")
    return reasons


# ------------------------------------------------------------------------ save / load


def save_index(index: Index, index_dir: Path, keep_builds: int = 2) -> Path:
    """Write ``index`` as a new build and make it current, atomically."""
    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    # The builder's pid in the name tells the next build whether this one is still alive.
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=builds))
    try:
        _write_artifacts(index, tmp)
        # unique even for two builds of the same version in the same second
        name = f"{index.manifest.index_version}-{time.strftime('%Y%m%dT%H%M%S')}-{tmp.name.removeprefix(TMP_PREFIX)}"
        final = builds / name
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_atomic(index_dir / CURRENT, (name + "\n").encode())
    _prune(builds, keep=max(keep_builds, 1), current=name)
    return final


def _write_artifacts(index: Index, folder: Path) -> None:
    if not isinstance(index.dense, DenseIndex) or not isinstance(index.lexical, LexicalIndex):
        raise TypeError("only an index built in memory (FAISS + bm25s) is saved to a folder")
    chunks = "".join(json.dumps(to_dict(c), ensure_ascii=False, sort_keys=True) + "\n" for c in index.chunks)
    (folder / "chunks.jsonl").write_text(chunks, encoding="utf-8")
    index.dense.save(folder / "dense.faiss")
    for name, data in artifact_bytes(index).items():
        (folder / name).write_bytes(data)
    index.lexical.save(folder / "bm25")
    artifacts = {
        p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }
    manifest = to_dict(index.manifest) | {"artifacts": artifacts}
    _write_json(folder / "manifest.json", manifest)
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def current_build(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(f"no index in {index_dir}: run `rag index`")
    name = pointer.read_text(encoding="utf-8").strip()
    folder = index_dir / BUILDS / name
    if not name or not folder.is_dir():
        raise IndexCorruptError(f"{pointer} names build {name!r}, which is missing: run `rag index`")
    return folder


def read_manifest(folder: Path) -> Manifest:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return Manifest(**data)
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise IndexCorruptError(f"{folder / 'manifest.json'} is unreadable ({exc}): run `rag index`") from exc


def verify_index(index_dir: Path) -> tuple[Path, Manifest]:
    """The current build's folder and manifest, once every artifact matches its sha256.

    Cheap enough for a start-up check (it reads the files, it does not parse them):
    ``rag serve`` runs it first when it may not rebuild.

    Raises:
        IndexNotFoundError: no index in ``index_dir``.
        IndexCorruptError: naming the first file that is missing, truncated or altered.
    """
    folder = current_build(index_dir)
    manifest = read_manifest(folder)
    if not manifest.artifacts:
        raise IndexCorruptError(f"{folder / 'manifest.json'} lists no artifacts: run `rag index`")
    for name, digest in manifest.artifacts.items():
        path = folder / name
        if not path.is_file() or file_sha256(path) != digest:
            raise IndexCorruptError(f"index file {path} is missing or altered: run `rag index`")
    return folder, manifest


@dataclass(frozen=True)
class BuildArtifacts:
    """A build's artifacts beside its chunks and its two searchable sides, as both stores
    keep them (files of the build folder, rows of the database's artifacts table)."""

    sentence_vectors: np.ndarray
    sentence_rows: dict[SentenceKey, int]
    sources: tuple[SourceInfo, ...]
    acronyms: dict[str, str]
    synonyms: Synonyms
    questions: SentenceQuestions
    heading_vectors: np.ndarray
    heading_rows: np.ndarray
    headings: tuple[str, ...]


def read_artifacts(read: Callable[[str], bytes], manifest: Manifest, where: str) -> BuildArtifacts:
    """The artifacts of the build ``manifest`` describes, ``read(name)`` giving each one's bytes
    (already checked against the manifest's hashes); ``where`` names the build in errors."""
    try:
        keys = [tuple(k) for k in json.loads(read("sentences.json"))]
        headings = json.loads(read("headings.json"))
        questions = (  # absent from builds before the list existed
            parse_questions(json.loads(read("questions.json")), where)
            if "questions.json" in manifest.artifacts
            else SentenceQuestions()
        )
        return BuildArtifacts(
            sentence_vectors=np.load(io.BytesIO(read("sentences.npy"))),
            sentence_rows={(str(k[0]), int(k[1]), int(k[2])): row for row, k in enumerate(keys)},
            sources=tuple(_source_from_dict(d) for d in json.loads(read("sources.json"))),
            acronyms=json.loads(read("acronyms.json")),
            synonyms=parse(json.loads(read("synonyms.json")), where),
            questions=questions,
            heading_vectors=np.load(io.BytesIO(read("headings.npy"))),
            heading_rows=np.asarray(headings["rows"], dtype=np.int64),
            headings=tuple(headings["headings"]),
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, CorpusError) as exc:
        raise IndexCorruptError(f"{where} cannot be read ({exc}): run `rag index`") from exc


def check_counts(n_chunks: int, n_dense: int, artifacts: BuildArtifacts, where: str) -> None:
    """IndexCorruptError unless the chunks, their vectors, the sentences and the headings
    line up row for row."""
    a = artifacts
    counts_differ = (
        n_dense != n_chunks
        or a.sentence_vectors.shape[0] != len(a.sentence_rows)
        or a.heading_rows.shape[0] != n_chunks
    )
    headings_differ = a.heading_vectors.shape[0] != len(a.headings) or (
        a.heading_rows.size > 0 and int(a.heading_rows.max()) >= len(a.heading_vectors)
    )
    if counts_differ or headings_differ:
        raise IndexCorruptError(f"{where} is inconsistent (row counts differ): run `rag index`")


def index_of(
    manifest: Manifest, chunks: tuple[Chunk, ...], dense: DenseSearch, lexical: LexicalSearch, a: BuildArtifacts,
    *, path: Path | None = None, store_version: int | None = None,
) -> Index:
    """The :class:`Index` of a loaded build: its folder's ``path``, or its ``store_version``."""
    return Index(
        manifest=manifest,
        chunks=chunks,
        dense=dense,
        lexical=lexical,
        sentence_vectors=a.sentence_vectors,
        sentence_rows=a.sentence_rows,
        sources=a.sources,
        acronyms=a.acronyms,
        synonyms=a.synonyms,
        heading_vectors=a.heading_vectors,
        heading_rows=a.heading_rows,
        headings=a.headings,
        questions=a.questions,
        path=path,
        store_version=store_version,
    )


def load_index(index_dir: Path) -> Index:
    """The current build, every artifact verified against the manifest's hashes."""
    folder, manifest = verify_index(index_dir)
    where = f"index in {folder}"
    artifacts = read_artifacts(lambda name: (folder / name).read_bytes(), manifest, where)
    try:
        chunks = tuple(chunk_from_dict(json.loads(line)) for line in
                       (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line)
        dense = DenseIndex.load(folder / "dense.faiss")
        lexical = LexicalIndex.load(folder / "bm25", len(chunks), artifacts.synonyms)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, CorpusError) as exc:
        raise IndexCorruptError(f"{where} cannot be read ({exc}): run `rag index`") from exc
    check_counts(len(chunks), dense.size, artifacts, where)
    return index_of(manifest, chunks, dense, lexical, artifacts, path=folder)


def _source_from_dict(d: dict[str, Any]) -> SourceInfo:
    return SourceInfo(d["source"], d["title"], tuple(Part(**p) for p in d["parts"]))


def artifact_bytes(index: Index) -> dict[str, bytes]:
    """A build's artifacts beside its chunks and its two searchable sides, as both stores keep
    them (files of the build folder, rows of the database's artifacts table); what
    :func:`read_artifacts` reads back."""

    def npy(array: np.ndarray) -> bytes:
        out = io.BytesIO()
        np.save(out, array)
        return out.getvalue()

    keys = sorted(index.sentence_rows.items(), key=lambda kv: kv[1])
    return {
        "sentences.npy": npy(index.sentence_vectors),
        "sentences.json": _json_bytes([list(k) for k, _ in keys]),
        "sources.json": _json_bytes(to_dict(list(index.sources))),
        "acronyms.json": _json_bytes(dict(sorted(index.acronyms.items()))),
        "synonyms.json": _json_bytes({"groups": index.synonyms.to_json()}),
        "questions.json": _json_bytes(index.questions.to_json()),
        "headings.npy": npy(index.heading_vectors),
        "headings.json": _json_bytes({"headings": list(index.headings), "rows": index.heading_rows.tolist()}),
    }


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _write_json(path: Path, data: Any) -> None:
    path.write_bytes(_json_bytes(data))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune(builds: Path, keep: int, current: str) -> None:
    """Drop completed builds beyond the newest ``keep`` and temporary folders of dead builds."""
    done = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in done[keep:]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
    remove_abandoned(builds)
