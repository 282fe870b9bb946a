"""What a question asks for, read from its wording alone: whose part (the seller's actions,
the seller's mindset, the partner's role), whether it wants a yes or a no, and what kind of
answer (guidance, or a figure, a date or a piece of writing, which the deck does not give).

The deck answers each scenario under the same headings: "What should the seller do?",
"What should the seller mindset be?" and "What does the partner do?". A seller who asks
"what does the partner do when it can support the new workload?" wants the third one, and
"can I offer discounts to win?" wants the guidance's verdict before anything else, and
"which scenarios does the guide cover?" wants the deck's contents list. The
patterns below are deliberately plain: a question that matches none asks for the seller's
part, which is what most questions want.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from rag.lexical import tokenize


class Wants(Enum):
    """The kind of answer a question asks for, where the guidance can only give some kinds.

    The deck says what to do and why; it quotes no prices, margins or deadlines and writes
    nothing for anyone. Classic question answering calls this the expected answer type: a
    question that wants a figure is answered only by a sentence that holds one.
    """

    GUIDANCE = "guidance"
    FIGURE = "figure"
    DATE = "date"
    NAMES = "names"
    """Named companies or people ("give me the names of the best partners"): the deck names
    tools and programmes, never a partner or a person."""
    WRITING = "writing"


class Role(Enum):
    """Whose part of a scenario a question (or a section heading) is about."""

    SELLER = "seller"
    MINDSET = "mindset"
    PARTNER = "partner"
    OTHER = "other"


_PARTY = r"(?:the|their|my|our|a|this|that|current|new|existing|csp)?\s*(?:csp\s+)?(?:partner|reseller|provider)s?"
_PARTNER_ROLE = re.compile(
    rf"\b(?:what|how)\s+(?:does|do|will|would|should|is|are|can|could|must)\s+{_PARTY}\b"
    rf"(?!\s+(?:want|ask|need|think|say|tell|expect)s?\b)"
    rf"|\b(?:partner|reseller|provider)(?:'s|s'|’s|s)?\s+(?:role|job|jobs|part|side|duties|duty|responsibilit\w*|obligations?|tasks?)\b"
    rf"|\b(?:role|job|duties|responsibilit\w*|obligations?)\s+of\s+{_PARTY}\b"
    rf"|\b(?:partner|reseller|provider)s?\s+(?:is\s+|are\s+)?"
    rf"(?:responsible|expected|supposed|meant|required|on the hook)\b"
    rf"|\b(?:partner|reseller|provider)s?\b[^.?!]*\b(?:have|has|play|plays)\s+(?:a\s+|any\s+)?(?:role|part)\b"
    rf"|^\s*(?:and|what about|how about)\s+{_PARTY}\s*\??\s*$"
    rf"|\bwhat\s+(?:is|are)\s+{_PARTY}\s+(?:doing|for|responsible|expected|supposed)\b"
    rf"|\b(?:what|who)\s+(?:handles|does|owns)\b.*\b(?:partner|reseller)(?:'s)?\s+(?:side|end)\b"
    rf"|^\s*(?:so\s+|but\s+|and\s+|ok(?:ay)?,?\s+)?(?:can|could|may|should|must|will|would|does|do)\s+{_PARTY}\b"
    rf"(?!\s+(?:want|ask|need|think|say|tell|expect)s?\b)",
    re.IGNORECASE,
)
"""A question about what the partner does, including one asking whether the partner can or
should do something ("can a CSP partner resell another partner's solution…?": the partner's
section answers it; dev threads follow-up fact coverage 0.769 -> 0.795, gold sets unchanged)."""
_MINDSET = re.compile(
    r"\b(?:mind-?set|mentality|attitude|frame of mind|outlook|perspective|posture|philosophy|stance)\b"
    r"|\bhow\s+should\s+i\s+(?:think|feel|view|see|look at|approach|regard|frame)\b"
    r"|\bwhat\s+should\s+i\s+(?:think|believe|keep in mind|bear in mind|remember)\b"
    r"|\b(?:keep|bear)\s+in\s+mind\b"
    r"|\bhow\s+(?:do|should)\s+(?:i|we)\s+(?:view|see|think about)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"^\s*(?:so\s+|but\s+|and\s+|ok(?:ay)?,?\s+|quick question:?\s+|hey,?\s+)?"
    r"(?:can|could|may|might|should|shall|must|do|does|did|is|are|am|was|were|will|would|have|has|"
    r"am i allowed|is it ok(?:ay)?|is it fine|is it alright|any reason not)\b",
    re.IGNORECASE,
)
_OVERVIEW = re.compile(
    r"\bscenarios?\b|\bwhich\s+(?:part|section|slide|page)s?\s+of\s+(?:the|this)\b",
    re.IGNORECASE,
)
"""A question about the guidance's scenarios themselves ("what scenarios does the guide
cover?", "which part of the playbook do I use when…"), which the table of contents answers."""
_DEFINES = re.compile(
    r"^\s*(?:so\s+|and\s+|ok(?:ay)?,?\s+)?(?:"
    r"what\s+(?:does|do)\s+(?:an?\s+|the\s+)?(?P<a>[A-Za-z][A-Za-z&]{1,7})\s+(?:actually\s+|even\s+)?"
    r"(?:stand\s+for|mean|refer\s+to)"
    r"|(?:what['’]?s|what\s+is|what\s+are)\s+(?:an?\s+|the\s+)?(?P<b>[A-Za-z][A-Za-z&]{1,7}?)s?"
    r"|(?:what\s+is|what['’]?s)\s+(?:an?\s+|the\s+)?(?P<c>[A-Za-z][A-Za-z&]{1,7})\s+short\s+for"
    r")\s*[?.!]*\s*$",
    re.IGNORECASE,
)
"""A question that asks only what a term means. (Who decides it is an acronym: the index's
acronym table, see :mod:`rag.acronyms`.)"""
_GUIDANCE = re.compile(r"\b(?:deck|guide|guidance|playbook|document)\b", re.IGNORECASE)
_ABOUT_THE_GUIDANCE = frozenset(tokenize(
    "scenario scenarios deck guide guidance playbook document doc slide slides section sections part parts "
    "cover covers covered covering talk talks about include includes included list topic topics many kinds "
    "types exist describe describes discuss discusses explain explains content contents there csp cloud "
    "solution provider sales seller sellers"
)) | {"what", "which", "how"}  # "what's": tokenize keeps a contraction's first word
"""The words of a question that asks only about the guidance itself ("which CSP scenarios
does the deck talk about?", "what does the guide cover?"), stemmed as :func:`tokenize` does."""
_ASKS_WHICH = re.compile(r"^\s*(?:is|are|was|were|do|does)\b.*\b(?:or)\b", re.IGNORECASE)


_FIGURE = re.compile(
    r"\bhow\s+much\b|\bhow\s+many\s+(?:days|weeks|months|hours|dollars|euros|seats|licen[cs]es|users)\b"
    r"|\bhow\s+long\s+(?:does|do|did|will|would|should|can|could|is|are)\b"  # a duration: so many days
    r"|\b(?:what|which)\b[^?]*\b(?:cost|costs|price|prices|margin|margins|rate card)\b"
    r"|\bper\s+(?:user|seat|licen[cs]e|month|hour|year)\b"
    r"|\b(?:refund|cancellation)\s+window\b|\bquota\s+(?:number|target|figure)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:deadline|due date|cut-?off date|what date|which date|by when)\b"
    r"|\bwhen\s+(?:is|are|does|do)\b[^?]*\b(?:due|finali[sz]ed?|close[sd]?|published|announced|paid)\b",
    re.IGNORECASE,
)
_WRITING = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?"
    r"(?:draft|write|compose|translate|rewrite|generate|summari[sz]e)\b"
    r"(?![^?]*\b(?:guidance|deck|playbook)\s+(?:say|says|said)\b)",
    re.IGNORECASE,
)
_NAMES = re.compile(
    r"\b(?:give|tell|send|list)\s+me\s+(?:the\s+|some\s+|a\s+few\s+)?names\b"
    r"|\bnames?\s+of\s+(?:the\s+|some\s+)?(?:\w+\s+){0,3}(?:partners|resellers|providers|companies|people|contacts)\b",
    re.IGNORECASE,
)
FIGURE_IN_TEXT = re.compile(
    r"[$€£¥]\s?\d|\d\s?%|\b\d[\d,.]*\s*(?:percent|dollars|usd|eur|days|weeks|months|hours|per)\b"
    r"|\b(?:percent|per cent)\b",
    re.IGNORECASE,
)
"""A sentence that quotes a figure: an amount of money, a percentage, a count of days."""
DATE_IN_TEXT = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\s+\d"
    r"|\b\d{1,2}\s+(?:january|february|march|april|may|june|july|august|september|october|november|december)\b"
    r"|\b(?:19|20)\d\d\b|\bq[1-4]\b|\bfy\d\d\b|\bwithin\s+\d+\s+(?:days|weeks|months)\b",
    re.IGNORECASE,
)
"""A sentence that names a date, a quarter or a time limit."""


@dataclass(frozen=True, slots=True)
class Intent:
    role: Role
    yes_no: bool
    wants: Wants = Wants.GUIDANCE
    overview: bool = False
    """The question asks about the scenarios themselves: a contents list answers it."""
    about_the_guidance: bool = False
    """...and nothing else: it is in scope whatever its similarity to the guidance's sentences
    (its words are about the deck, not in it), when a contents list answers it."""
    defines: str | None = None
    """The term the question asks the meaning of, when that is all it asks ("what does CSP
    stand for?", "what's an MCA?"): an acronym's spelled-out form answers it."""


def read_intent(question: str) -> Intent:
    """The role a question asks about and whether it is a yes/no question."""
    if _PARTNER_ROLE.search(question):
        role = Role.PARTNER
    elif _MINDSET.search(question):
        role = Role.MINDSET
    else:
        role = Role.SELLER
    # "is it EA or CSP?" asks which, not whether
    yes_no = any(_YES_NO.search(part) and not _ASKS_WHICH.search(part) for part in _clauses(question))
    terms = tokenize(question)
    only_about_it = bool(terms) and all(t in _ABOUT_THE_GUIDANCE for t in terms)
    overview = _OVERVIEW.search(question) is not None or (only_about_it and _GUIDANCE.search(question) is not None)
    asked = _DEFINES.match(question)
    defines = next((g for g in asked.groups() if g), None) if asked else None
    return Intent(role, yes_no, _wants(question), overview, overview and only_about_it, defines)


def _wants(question: str) -> Wants:
    if _WRITING.search(question):
        return Wants.WRITING
    if _FIGURE.search(question):
        return Wants.FIGURE
    if _DATE.search(question):
        return Wants.DATE
    if _NAMES.search(question):
        return Wants.NAMES
    return Wants.GUIDANCE


def can_give(wants: Wants, text: str) -> bool:
    """Whether a passage of the guidance can give the kind of answer a question wants: any
    passage gives guidance, only one with a figure (or a date) gives one, and none writes
    text or recommends named partners: guidance says how to choose, not whom."""
    if wants is Wants.FIGURE:
        return FIGURE_IN_TEXT.search(text) is not None
    if wants is Wants.DATE:
        return DATE_IN_TEXT.search(text) is not None
    return wants is Wants.GUIDANCE


def _clauses(question: str) -> list[str]:
    """The question's sentences and the clause after a dash or comma that starts a question."""
    parts = re.split(r"(?<=[.?!])\s+|\s+[-–—]\s+|[,;:]\s+", question)
    return [p for p in parts if p.strip()]


_SECTION_ROLES = (
    (re.compile(r"\bpartner\b.*\bdo\b|\bpartner'?s?\s+role\b", re.IGNORECASE), Role.PARTNER),
    (re.compile(r"\bmind-?set\b|\bshould\s+you\s+know\b|\bthink\b", re.IGNORECASE), Role.MINDSET),
    (re.compile(r"\b(?:seller|you)\b.*\bdo\b", re.IGNORECASE), Role.SELLER),
)


def section_role(section: str | None) -> Role:
    """Whose part a section heading holds ("What does the partner do?" -> PARTNER)."""
    if section:
        for pattern, role in _SECTION_ROLES:
            if pattern.search(section):
                return role
    return Role.OTHER
