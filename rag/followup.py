"""Follow-up questions: which earlier turn of a thread a question leans on, read without a
language model.

A seller asks "My customer wants to move from CSP back to EA." and then "Should I tell the
partner?". The second question names no scenario: alone it could be any of the eight. It is
read as a follow-up when it is *elliptical* (few words of its own, opening like "and …",
"what if …", or pointing back with "they", "it", "that"), unless its own retrieval is
confident about a slide the earlier turn did not cite; it is then retrieved together with
the earlier turn's question. A question that says where it is ("what about an upcoming EA
renewal?") is a change of topic and is answered on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.datatypes import Turn
from rag.lexical import tokenize

MAX_OWN_TERMS = 6
"""A question with at most half this many content words of its own (stop words left out) is
elliptical ("should I tell the partner?" has two), and one with at most this many when it
points back ("do they need to know?"). Chosen on the dev threads."""

_OPENS_LIKE_A_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|so|also|then|ok(?:ay)?|what about|how about|what if|and if|if so|if not|"
    r"in that case|same (?:question|thing)|what else|anything else|why)\b",
    re.IGNORECASE,
)
_POINTS_BACK = re.compile(
    r"\b(?:they|them|their|themselves|it|its|itself|that|this|those|these|he|she|him|her|himself|herself)\b",
    re.IGNORECASE,
)
"""Words that point back to someone or something named before. ("…bring in another partner
themselves?": with the reflexives, dev threads follow-up hit@1 0.949 -> 0.974.)"""


@dataclass(frozen=True, slots=True)
class Context:
    """The earlier turn a follow-up leans on: its index in the history and the text it adds."""

    turn: int
    text: str
    chunk_ids: tuple[str, ...]


def is_elliptical(question: str) -> bool:
    """Whether the question leans on what was said before rather than saying where it is."""
    own = tokenize(question)
    if len(own) <= MAX_OWN_TERMS // 2:
        return True
    if _OPENS_LIKE_A_FOLLOW_UP.search(question):
        return True
    return len(own) <= MAX_OWN_TERMS and _POINTS_BACK.search(question) is not None


def context_of(question: str, history: Sequence[Turn]) -> Context | None:
    """The turn to read an elliptical question with: the latest one whose answer cited
    something (else the latest), its question preceded by the one before it when it was a
    follow-up too. None when the question is not elliptical or there is no history."""
    if not history or not is_elliptical(question):
        return None
    index = next((i for i in range(len(history) - 1, -1, -1) if history[i].chunk_ids), len(history) - 1)
    texts = [history[index].question]
    if is_elliptical(history[index].question) and index > 0:
        texts.insert(0, history[index - 1].question)
    return Context(index, " ".join(texts), history[index].chunk_ids)
