"""Sentence boundaries, including bullets that a slide conversion ran together.

A pptx-to-Markdown conversion flattens a bulleted list into one line:
"... the breadth motion Work with the partner on value solutions ...". A bullet
boundary is recovered where a lower-case word (or an acronym, or a closing
parenthesis) is followed by a capitalised word that is not a proper noun. A word
counts as an ordinary word when the same document also uses it in lower case
("Work" -> "work"), or when it is a gerund ("Pursuing"); "Unified" and "Microsoft"
never appear in lower case, so "purchase Unified Support" stays whole. Words like
"the", "with" or "for" before the capital mean a name follows, not a new bullet.

Every sentence is a span of the original text: nothing is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

from rag.datatypes import Sentence

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "no.", "mr.", "ms.", "dr.")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"“(\[]?[A-Z0-9])")
_WORD = re.compile(r"\S+")
_LOWER_WORD = re.compile(r"[a-z][a-z'’-]*")
_CAPITALISED = re.compile(r"[A-Z][a-z]+")

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "into",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "without",
        "as",
        "via",
        "under",
        "over",
        "through",
        "and",
        "or",
        "nor",
        "but",
        "than",
        "then",
        "that",
        "this",
        "these",
        "those",
        "their",
        "your",
        "our",
        "its",
        "his",
        "her",
        "my",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "not",
        "no",
        "both",
        "either",
        "neither",
        "each",
        "every",
        "any",
        "some",
    ]
)


def lexicon(text: str) -> frozenset[str]:
    """Words that ``text`` uses in lower case: the evidence that a capital starts a bullet."""
    words = set()
    for token in _WORD.findall(text):
        core = token.strip(".,;:!?()[]\"'“”‘’")
        if _LOWER_WORD.fullmatch(core):
            words.add(core)
    return frozenset(words)


def split_sentences(text: str, offset: int, words: frozenset[str]) -> list[Sentence]:
    """Sentences of ``text`` (which starts at ``offset`` in its document)."""
    out: list[Sentence] = []
    for start, end in _sentence_spans(text):
        for s, e in _bullet_spans(text, start, end, words):
            s, e = _balanced(text, s, e)
            if e > s:
                out.append(Sentence(text[s:e], offset + s, offset + e))
    return out


def _sentence_spans(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = text[start : match.start()].rstrip("\"'”’)]").lower()
        if before.endswith(_ABBREVIATIONS):
            continue
        end = match.start() + len(match.group(0).rstrip())
        yield from _trimmed(text, start, end)
        start = match.end()
    yield from _trimmed(text, start, len(text))


def _bullet_spans(text: str, start: int, end: int, words: frozenset[str]) -> Iterable[tuple[int, int]]:
    tokens = list(_WORD.finditer(text, start, end))
    cut = start
    for prev, nxt in pairwise(tokens):
        if _is_bullet_break(prev.group(0), nxt.group(0), words):
            yield from _trimmed(text, cut, prev.end())
            cut = nxt.start()
    yield from _trimmed(text, cut, end)


def _is_bullet_break(prev: str, nxt: str, words: frozenset[str]) -> bool:
    lead = _CAPITALISED.match(nxt)
    if not lead:
        return False
    if prev.endswith(")"):
        ends_item = True
    else:
        bare = prev.rstrip("\"'”’")
        is_acronym = bare.isupper() and bare.isalpha() and len(bare) >= 2
        is_lower_word = bare[:1].islower() and bare[-1:].isalnum()
        ends_item = (is_lower_word or is_acronym) and bare.lower() not in FUNCTION_WORDS
    if not ends_item:
        return False
    first = lead.group(0).lower()
    return first in words or (first.endswith("ing") and len(first) > 5)


_PAIRS = {"(": ")", "[": "]"}


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the bracket of an aside that another sentence opens or closes:
    "(Scenario may differ if … a partner. If a partner referral is needed, provide three or
    more partners, following standard practices)." is two sentences, quoted without the
    lone "(" and ")." (still the deck's exact words, each a substring of it). An empty span
    when nothing is left."""
    opener = text[start : start + 1]
    if opener in _PAIRS and text.count(opener, start, end) > text.count(_PAIRS[opener], start, end):
        start += 1
    tail = text[start:end].rstrip(".,;:!? ")
    closer = tail[-1:]
    opened = next((o for o, c in _PAIRS.items() if c == closer), None) if closer else None
    if opened is not None and tail.count(closer) > tail.count(opened):
        end = start + len(tail) - 1
    return next(iter(_trimmed(text, start, end)), (start, start))


def _trimmed(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end
