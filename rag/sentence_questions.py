"""The questions each guidance sentence answers, in sellers' words (``corpus/questions.json``).

A seller asks "does the reseller have to stay in every meeting?"; the deck says "Involve
the partner in all customer conversations…". The bundled embedding model sees little in
common between the two, and no stronger model ships offline. So the maintainers keep, for
each sentence of the guidance, a few questions it answers, written from the deck alone
(never from the evaluation's gold questions) and reviewed like code. At build time a
sentence's vector becomes the direction between its own and its questions' mean
(:func:`blend`): a question in a seller's words then finds the sentence that answers it,
and retrieval's best-sentence reading, the answer's sentence choice and the evidence all
use that one vector.

The file::

    {"sentences": [{"source": "csp-for-sellers.md", "slide": 4,    (or "page": 3)
                    "sentence": "<the sentence exactly as the deck has it>",
                    "questions": ["can I offer discounts to beat the CSP quote?", ...]}]}

An entry whose sentence is no longer in the corpus (the deck was edited) matches nothing:
the build logs it and ``tests/unit/test_sentence_questions.py`` fails until the entry is
updated. A corpus without the file builds as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.datatypes import Place
from rag.errors import CorpusError
from rag.word_lists import read_list

QUESTIONS_FILE = "questions.json"

SentenceText = tuple[Place, str]
"""(where, the sentence's text): how an entry names its sentence. The slide (or page) is
part of the name: "With the partner, identify what will drive growth…" is in three
scenarios, and a seller asks it differently in each."""


@dataclass(frozen=True)
class SentenceQuestions:
    """Questions per sentence, keyed by its place (source, slide, page) and text."""

    by_sentence: Mapping[SentenceText, tuple[str, ...]] = field(default_factory=dict)

    def of(self, place: Place, text: str) -> tuple[str, ...]:
        return self.by_sentence.get((place, text), ())

    def __len__(self) -> int:
        return len(self.by_sentence)

    def to_json(self) -> dict[str, object]:
        return {
            "sentences": [
                {"source": source, "slide": slide, "page": page, "sentence": text, "questions": list(questions)}
                for ((source, slide, page), text), questions in self.by_sentence.items()
            ]
        }

    def unmatched(self, sentences: Iterable[SentenceText]) -> list[SentenceText]:
        """Entries whose sentence is not among ``sentences`` (the corpus's, as chunked)."""
        present = set(sentences)
        return [key for key in self.by_sentence if key not in present]


def parse(data: object, where: str) -> SentenceQuestions:
    """The list from its JSON form, or :class:`CorpusError` saying which entry is wrong."""
    entries = data.get("sentences") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CorpusError(f'{where}: expected {{"sentences": [...]}}')
    out: dict[SentenceText, tuple[str, ...]] = {}
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise CorpusError(f"{where}: entry {n} is not an object")
        source, text, questions = entry.get("source"), entry.get("sentence"), entry.get("questions")
        slide, page = entry.get("slide"), entry.get("page")
        if not (isinstance(source, str) and source and isinstance(text, str) and text.strip()):
            raise CorpusError(f'{where}: entry {n} needs a "source" and a "sentence" (text)')
        if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (slide, page)):
            raise CorpusError(f'{where}: entry {n}: "slide" and "page" must be whole numbers')
        if not (isinstance(questions, list) and all(isinstance(q, str) and q.strip() for q in questions)):
            raise CorpusError(f'{where}: entry {n} ("{text[:40]}…"): "questions" must be a list of texts')
        key = ((source, slide, page), text)
        if key in out:
            raise CorpusError(f'{where}: entry {n} ("{text[:40]}…") repeats an earlier sentence')
        if questions:
            out[key] = tuple(q.strip() for q in questions)
    return SentenceQuestions(out)


def load_questions(corpus_dir: Path) -> SentenceQuestions:
    """The corpus folder's list, or an empty one when the folder has none."""
    found = read_list(corpus_dir, QUESTIONS_FILE)
    if found is None:
        return SentenceQuestions()
    return parse(found[1], str(found[0]))


def blend(sentence_vector: np.ndarray, question_vectors: np.ndarray) -> np.ndarray:
    """The unit vector halfway (in direction) between a sentence and its questions' mean:
    each side weighs as much as the other. (On the dev gold set, weights from 0.75 to 1.5
    for the questions gave the same fact coverage; 1 is the plain choice.)"""
    if not len(question_vectors):
        return sentence_vector
    v = np.asarray(sentence_vector, dtype=np.float32) + np.mean(question_vectors, axis=0, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else np.asarray(sentence_vector, dtype=np.float32)
