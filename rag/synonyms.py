"""The domain's synonym and paraphrase list (``corpus/synonyms.json``): sellers' words and
the guidance's words for the same thing.

A seller asks about "discounts", a "reseller" or "going direct"; the deck says
"concessions", "partner" and "EA or an MCA through their account team". Each group of the
list holds phrases that mean the same here, the guidance's own wording first. Both sides of
retrieval use it: every text (chunk or question) that contains a phrase of a group gets the
group's token on the lexical side (:meth:`Synonyms.tokens`), and a question that uses a
seller's phrase is embedded with the guidance's wording added (:meth:`Synonyms.expand`).

Phrases match whole words after lower-casing and stemming, stop words kept: "discounts"
matches "discount", and "can't deliver" never matches "can deliver".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.errors import CorpusError
from rag.word_lists import read_list

SYNONYMS_FILE = "synonyms.json"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_CONTRACTIONS = {  # typed without the apostrophe, as questions often are
    w.replace("'", ""): w
    for w in ("can't", "don't", "doesn't", "won't", "isn't", "shouldn't", "didn't", "wouldn't", "couldn't", "aren't")
}


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    from rag.lexical import stemmer  # one stemmer for the lexical side and this list

    return stemmer()


@lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """Lower-cased, stemmed words of ``text``, stop words kept (how phrases are matched)."""
    raw = [_CONTRACTIONS.get(w, w) for w in _WORD.findall(text.lower().translate(_APOSTROPHES))]
    return tuple(_stemmer().stemWords(raw))


@dataclass(frozen=True)
class Synonyms:
    """Groups of equivalent phrases; the first phrase of each group is the guidance's wording."""

    groups: tuple[tuple[str, ...], ...] = ()
    _by_first_word: dict[str, list[tuple[tuple[str, ...], int]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _canon: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _words(self, text: str) -> tuple[str, ...]:
        return tuple(self._canon.get(w, w) for w in words(text))

    def __post_init__(self) -> None:
        # A group whose guidance wording is one word ("partner") makes its one-word phrases
        # ("reseller", "var") that word inside other phrases too: "switching resellers"
        # then matches "switch partners".
        for group in self.groups:
            head = words(group[0])
            if len(head) == 1:
                for phrase in group[1:]:
                    stems = words(phrase)
                    if len(stems) == 1:
                        self._canon.setdefault(stems[0], head[0])
        for g, group in enumerate(self.groups):
            for phrase in group:
                stems = self._words(phrase)
                if stems:
                    self._by_first_word.setdefault(stems[0], []).append((stems, g))
        for entries in self._by_first_word.values():
            entries.sort(key=lambda e: -len(e[0]))  # longest phrase first

    def matches(self, text: str) -> tuple[int, ...]:
        """Indices of the groups with a phrase in ``text``, in order of first occurrence."""
        stems = self._words(text)
        found: dict[int, None] = {}
        for i, stem in enumerate(stems):
            for phrase, g in self._by_first_word.get(stem, ()):
                if stems[i : i + len(phrase)] == phrase:
                    found.setdefault(g)
        return tuple(found)

    def tokens(self, text: str) -> list[str]:
        """One lexical token per group matched in ``text`` (the same token on both sides)."""
        return [self.token(g) for g in self.matches(text)]

    def token(self, group: int) -> str:
        return "syn:" + "_".join(words(self.groups[group][0]))

    def expand(self, question: str) -> str:
        """The question followed by the guidance's wording of each group it matches through
        another phrase: "can I offer discounts" -> "can I offer discounts (concessions)"."""
        own = words(question)  # as typed: "discounts" is not the guidance's "concessions"
        extra: list[str] = []
        for g in self.matches(question):
            wording = self.groups[g][0]
            stems = words(wording)
            if not any(own[i : i + len(stems)] == stems for i in range(len(own))):
                extra.append(wording)
        return f"{question} ({'; '.join(extra)})" if extra else question

    def to_json(self) -> list[list[str]]:
        return [list(group) for group in self.groups]


def parse(data: object, where: str) -> Synonyms:
    """Synonyms from the file's JSON (``{"groups": [[...], ...]}``); :class:`CorpusError` if malformed."""
    groups = data.get("groups") if isinstance(data, dict) else data
    if not isinstance(groups, list) or not all(_is_group(g) for g in groups):
        raise CorpusError(
            f"{where} must hold {{\"groups\": [[\"guidance wording\", \"seller wording\", ...], ...]}}: "
            "lists of at least two non-empty phrases"
        )
    return Synonyms(tuple(tuple(p.strip() for p in g) for g in groups))


def _is_group(group: object) -> bool:
    return (
        isinstance(group, list)
        and len(group) >= 2
        and all(isinstance(p, str) and words(p) for p in group)
    )


def load_synonyms(corpus_dir: Path) -> Synonyms:
    """The corpus folder's list, or an empty one when the folder has none."""
    found = read_list(corpus_dir, SYNONYMS_FILE)
    if found is None:
        return Synonyms()
    return parse(found[1], str(found[0]))


def duplicates(synonyms: Synonyms) -> list[str]:
    """Phrases listed in more than one group (a review aid: each should mean one thing)."""
    seen: dict[tuple[str, ...], int] = {}
    out = []
    for g, group in enumerate(synonyms.groups):
        for phrase in group:
            stems = words(phrase)
            if stems in seen and seen[stems] != g:
                out.append(phrase)
            seen.setdefault(stems, g)
    return out
