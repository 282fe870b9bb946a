"""Gold threads: sellers' follow-up questions, their JSONL format and its strict loader.

A seller asks in a thread ("My customer wants to move from CSP back to EA." then "Should I
tell the partner?"). One JSON object per line::

    {"id": "thr-dev-01", "tags": ["ellipsis"], "turns": [
      {"question": "My customer wants to move from CSP back to EA.", "standalone": "<the same>",
       "kind": "first", "slides": [11], "facts": [["moving from breadth should be a last resort"]]},
      {"question": "Should I tell the partner?", "kind": "follow-up", "slides": [11],
       "standalone": "My customer wants to move from CSP back to EA - should I tell the partner?",
       "facts": [["the customer should inform their partner"]]}]}

Each turn is one of :data:`KINDS`: the thread's ``first`` question; a ``follow-up`` that only
makes sense with the thread (its ``standalone`` spells out what the thread supplies); or a
``topic-change`` that starts another scenario and says so itself (its ``standalone`` is the
question). ``slides`` and ``facts`` mean what they mean in :mod:`eval.gold`: the relevant
slides, primary first, and the key facts as groups of acceptable verbatim phrasings.

Like the gold questions, a thread file is reviewed like code: the loader refuses anything
doubtful with the file, the line, the turn and the fix. Whether each fact phrase occurs in
its slides needs the corpus, so that is :func:`fact_problems`, run by a test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.answer_metrics import contains_phrase

# The field checks are gold.py's own, so a thread turn and a gold question that say the
# same wrong thing get the same message.
from eval.gold import DEFAULT_SOURCE, GoldError, GoldItem, _facts, _phrases, _slides, _text, load_jsonl, normalise

FIRST = "first"
FOLLOW_UP = "follow-up"
TOPIC_CHANGE = "topic-change"
KINDS = (FIRST, FOLLOW_UP, TOPIC_CHANGE)
"""Allowed values of a turn's ``kind``, in report order."""

MIN_TURNS = 2
MAX_TURNS = 4
"""A thread has 2 to 4 turns: one turn is not a thread, and sellers rarely go past four."""

MAX_FACTS = 2
"""Key facts per turn: a follow-up's answer is short, so one or two facts say whether it hit."""

FACT_WORDS = (3, 10)
"""Words in a fact phrase (after normalising): fewer matches by accident, more asks the
answer to quote a whole sentence verbatim."""

_REQUIRED = ("id", "turns", "tags")
_OPTIONAL = ("source",)
_TURN_KEYS = ("question", "standalone", "kind", "slides", "facts")


@dataclass(frozen=True, slots=True)
class ThreadTurn:
    """One question of a thread, with what a good answer retrieves and says."""

    question: str
    """As the seller typed it in the thread."""
    standalone: str
    """The same question made self-contained; identical to ``question`` unless a follow-up."""
    kind: str
    slides: tuple[int, ...]
    """Relevant slide numbers, primary first (never empty: every turn is in scope)."""
    facts: tuple[tuple[str, ...], ...]

    @property
    def primary_slide(self) -> int:
        return self.slides[0]


@dataclass(frozen=True, slots=True)
class GoldThread:
    """A gold thread: its turns in the order they are asked."""

    id: str
    turns: tuple[ThreadTurn, ...]
    tags: tuple[str, ...]
    source: str = DEFAULT_SOURCE

    def gold_item(self, index: int, *, standalone: bool = False) -> GoldItem:
        """Turn ``index`` (0-based) as a gold question, so :func:`eval.metrics.score_question`
        scores it exactly like the gold sets: the thread's question, or its standalone text."""
        turn = self.turns[index]
        return GoldItem(
            id=f"{self.id}/{index + 1}",
            question=turn.standalone if standalone else turn.question,
            scenario=scenario_of(turn.primary_slide),
            slides=turn.slides,
            facts=turn.facts,
            must_not=(),
            abstain=False,
            tags=(turn.kind, *self.tags),
            source=self.source,
        )


def scenario_of(slide: int) -> str:
    """The deck's scenario of a slide: slides 4-11 hold Scenarios 1-8, the others are general."""
    return f"s{slide - 3}" if 4 <= slide <= 11 else "general"


def load_threads(path: Path | str) -> tuple[GoldThread, ...]:
    """Read and validate a gold thread JSONL file; blank lines are skipped.

    Raises :class:`~eval.gold.GoldError` naming the file, the 1-based line (and turn) and the
    problem.
    """
    return load_jsonl(path, "thread", _parse)


def _keys(record: Any, required: Sequence[str], optional: Sequence[str], what: str, where: str) -> None:
    if not isinstance(record, dict):
        raise GoldError(f"{where}: {what} must be a JSON object, got {type(record).__name__}")
    missing = [key for key in required if key not in record]
    if missing:
        raise GoldError(f"{where}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(record) - set(required) - set(optional))
    if unknown:
        allowed = ", ".join((*required, *optional))
        raise GoldError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})")


def _parse(record: Any, where: str) -> GoldThread:
    _keys(record, _REQUIRED, _OPTIONAL, "a record", where)
    thread_id = _text(record["id"], "id", where)
    turns = record["turns"]
    if not isinstance(turns, list) or not MIN_TURNS <= len(turns) <= MAX_TURNS:
        count = f"{len(turns)} turns" if isinstance(turns, list) else repr(turns)
        raise GoldError(f"{where}: turns must be a list of {MIN_TURNS} to {MAX_TURNS} turns, got {count}")
    parsed: list[ThreadTurn] = []
    for number, turn in enumerate(turns, start=1):
        parsed.append(_turn(turn, parsed, f"{where}: turn {number}"))
    return GoldThread(
        id=thread_id,
        turns=tuple(parsed),
        tags=_phrases(record["tags"], "tags", where),
        source=_text(record.get("source", DEFAULT_SOURCE), "source", where),
    )


def _turn(record: Any, before: Sequence[ThreadTurn], where: str) -> ThreadTurn:
    _keys(record, _TURN_KEYS, (), "a turn", where)
    question = _text(record["question"], "question", where)
    standalone = _text(record["standalone"], "standalone", where)
    kind = record["kind"]
    if kind not in KINDS:
        raise GoldError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if not before and kind != FIRST:
        raise GoldError(f"{where}: the first turn of a thread must have kind {FIRST!r}, got {kind!r}")
    if before and kind == FIRST:
        raise GoldError(f"{where}: only the first turn has kind {FIRST!r}: use {FOLLOW_UP!r} or {TOPIC_CHANGE!r}")
    same = normalise(standalone) == normalise(question)
    if kind == FOLLOW_UP and same:
        raise GoldError(
            f"{where}: a follow-up's standalone must spell out what the thread supplies, "
            "not repeat the question"
        )
    if kind != FOLLOW_UP and not same:
        raise GoldError(f"{where}: a {kind} turn is self-contained, so standalone must equal question")
    slides = _slides(record["slides"], where)
    if not slides:
        raise GoldError(f"{where}: slides must name at least one slide (every turn is in scope)")
    if kind == TOPIC_CHANGE and slides[0] == before[-1].primary_slide:
        raise GoldError(
            f"{where}: a topic change starts another scenario, but its primary slide {slides[0]} "
            "is the previous turn's: make it a follow-up"
        )
    facts = _facts(record["facts"], where)
    if not 1 <= len(facts) <= MAX_FACTS:
        raise GoldError(f"{where}: a turn has 1 to {MAX_FACTS} key facts, got {len(facts)}")
    return ThreadTurn(question=question, standalone=standalone, kind=kind, slides=slides, facts=facts)


def fact_problems(threads: Sequence[GoldThread], slide_text: Mapping[int, str]) -> list[str]:
    """Every fact phrase that is not a short verbatim excerpt of one of its turn's slides.

    ``slide_text`` maps slide numbers to their text (title and body); phrases are looked up
    with :func:`~eval.answer_metrics.contains_phrase`, as answers are scored. A phrase must also have
    :data:`FACT_WORDS` words. Returns one message per problem, empty when all is well.
    """
    low, high = FACT_WORDS
    problems: list[str] = []
    for thread in threads:
        for number, turn in enumerate(thread.turns, start=1):
            where = f"{thread.id} turn {number}"
            unknown = [s for s in turn.slides if s not in slide_text]
            if unknown:
                problems.append(f"{where}: slide(s) {unknown} are not in the deck")
            for group in turn.facts:
                for phrase in group:
                    words = len(normalise(phrase).split())
                    if not low <= words <= high:
                        problems.append(f"{where}: {phrase!r} has {words} words, not {low} to {high}")
                    if not any(contains_phrase(slide_text[s], phrase) for s in turn.slides if s in slide_text):
                        problems.append(f"{where}: {phrase!r} is not in slide(s) {list(turn.slides)}")
    return problems
