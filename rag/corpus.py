"""Files under ``corpus/`` -> :class:`Document`, one loader per format keyed by suffix.

The loaders live in :mod:`rag.formats`; this module walks the folder, picks the
loader and keeps the record of what was loaded and what was not. A file that
cannot be loaded (unsupported type, corrupt, encrypted, empty, unreadable) never
breaks a build: it is skipped with one warning on the ``rag.corpus`` logger that
names it and says why, and listed in the :class:`LoadReport`. ``strict=True``
turns any skipped file into a :class:`~rag.errors.CorpusError`.

Ignored without a word: anything whose path has a part starting with ``.`` or
``_`` (drafts, editor files), the acronym glossary (``glossary.json``), the synonym
list (``synonyms.json``) and the questions per sentence (``questions.json``), which live
in the corpus folder but are not documents (they are fingerprinted with the documents all
the same: editing any of them makes the index stale).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag.acronyms import GLOSSARY_FILE
from rag.datatypes import Document
from rag.errors import CorpusError
from rag.formats import Loader, reason_of, text_format, unreadable
from rag.formats.docx import load_docx
from rag.formats.html import load_html
from rag.formats.markdown import load_markdown, load_text
from rag.formats.pdf import load_pdf
from rag.formats.pptx import load_pptx
from rag.sentence_questions import QUESTIONS_FILE
from rag.synonyms import SYNONYMS_FILE

log = logging.getLogger(__name__)

__all__ = [
    "LOADERS",
    "LoadReport",
    "Loader",
    "Skipped",
    "corpus_fingerprint",
    "iter_corpus_files",
    "load_corpus",
    "load_corpus_report",
    "load_file",
    "load_markdown",
    "load_text",
]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A corpus file that was not indexed, and why (``reason`` is one line for a person)."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What :func:`load_corpus_report` made of a corpus folder, in path order."""

    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]

    def require_complete(self) -> None:
        """Raise :class:`CorpusError` listing the skipped files, if there are any (strict mode)."""
        if self.skipped:
            listed = "; ".join(f"{s.source}: {s.reason}" for s in self.skipped)
            raise CorpusError(
                f"{len(self.skipped)} corpus file(s) could not be indexed (strict mode): {listed}. "
                "Fix or remove them, or build without strict mode to skip them"
            )


def _file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ignored(rel: PurePosixPath) -> bool:
    return any(part.startswith((".", "_")) for part in rel.parts) or rel.as_posix() in WORD_LISTS


WORD_LISTS = (GLOSSARY_FILE, SYNONYMS_FILE, QUESTIONS_FILE)
"""Maintainers' lists in the corpus folder that shape the index without being documents."""


def _candidates(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every file that is not ignored, with its source name, in a stable order."""
    for path in sorted(folder.rglob("*")):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        if not _ignored(rel) and path.is_file():
            yield path, rel.as_posix()


def iter_corpus_files(folder: Path) -> Iterator[Path]:
    """Files under ``folder`` with a supported suffix, in a stable order (ignored ones left out)."""
    for path, _ in _candidates(folder):
        if path.suffix.lower() in LOADERS:
            yield path


def corpus_fingerprint(folder: Path) -> dict[str, str]:
    """``{source: sha256}`` of every supported file and word list: what the manifest records.

    Files that will be skipped (corrupt, encrypted, ...) are fingerprinted too, so fixing
    one makes the index stale; an unreadable file is recorded as ``"unreadable"``.
    """
    check_corpus_folder(folder)
    out = {}
    lists = (folder / name for name in WORD_LISTS)
    for path in [*iter_corpus_files(folder), *(p for p in lists if p.is_file())]:
        try:
            digest = _file_sha256(path.read_bytes())
        except OSError:
            digest = "unreadable"
        out[path.relative_to(folder).as_posix()] = digest
    return out


def load_corpus(folder: Path, *, strict: bool = False) -> tuple[Document, ...]:
    """Load every supported file under ``folder``; see :func:`load_corpus_report`."""
    return load_corpus_report(folder, strict=strict).documents


def load_corpus_report(folder: Path, *, strict: bool = False, warn: bool = True) -> LoadReport:
    """Load every file under ``folder``, skipping those that cannot be loaded.

    ``warn`` logs one warning per skipped file (turn it off when the caller reports
    the skipped files itself). ``strict`` raises :class:`CorpusError` listing them
    instead of returning. A corpus with nothing loadable is always an error.
    """
    check_corpus_folder(folder)
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path, source in _candidates(folder):
        try:
            documents.append(load_file(path, source))
        except CorpusError as exc:
            skipped.append(Skipped(source, reason_of(exc, source)))
            if warn:
                log.warning("skipped corpus file %s: %s", source, skipped[-1].reason)
    report = LoadReport(tuple(documents), tuple(skipped))
    if strict:
        report.require_complete()
    if not documents:
        also = "".join(f"; skipped {s.source}: {s.reason}" for s in skipped)
        raise CorpusError(f"no supported files ({', '.join(sorted(LOADERS))}) in corpus folder {folder}{also}")
    return report


def load_file(path: Path, source: str) -> Document:
    """One file as a :class:`Document`; :class:`CorpusError` says why it cannot be one.

    A missing library raises :class:`~rag.errors.DependencyError` instead: that is
    the installation's problem, not the file's, and skipping would hide it.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        kind = f"file type {path.suffix!r}" if path.suffix else "file without a suffix"
        raise unreadable(source, f"unsupported {kind} (supported: {', '.join(sorted(LOADERS))})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(source, f"cannot be read ({exc.strerror})") from exc
    if not data.strip():
        raise unreadable(source, "empty file")
    doc = loader(source, data, _file_sha256(data))
    if not doc.segments:
        raise unreadable(source, "no text to index")
    return doc


def check_corpus_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise CorpusError(
            f"corpus folder {folder} does not exist: run from the project root or set RAG_CORPUS_DIR"
        )


LOADERS: dict[str, Loader] = {
    ".md": text_format(load_markdown),
    ".markdown": text_format(load_markdown),
    ".txt": text_format(load_text),
    ".pptx": load_pptx,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
}
"""Suffix -> loader. A new format is one module in :mod:`rag.formats` and one line here."""
