"""Gold questions: the JSONL format, its strict loader, and text normalisation.

One JSON object per line::

    {"id": "s3-partner-cannot-support", "question": "...", "scenario": "s3",
     "slides": [6, 3], "facts": [["net new opportunity"], ["confirm with the partner"]],
     "must_not": ["offer concessions"], "abstain": false, "tags": ["paraphrase"],
     "source": "csp-for-sellers.md"}

``slides`` lists the relevant slides with the primary one first (empty when the question is
out of scope); each inner list of ``facts`` holds the acceptable phrasings of one key fact.
``source`` is optional and names the corpus document the slides belong to.

A gold set is reviewed like code, so the loader refuses anything doubtful (unknown or missing
keys, wrong types, duplicate ids, inconsistent abstention) with the file, the line and the fix,
instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rag.errors import RagError

DEFAULT_SOURCE = "csp-for-sellers.md"
"""Document the slides of a record refer to when the record has no ``source``."""

OUT_OF_SCOPE = "out-of-scope"
SCENARIOS = (*(f"s{n}" for n in range(1, 9)), "general", OUT_OF_SCOPE)
"""Allowed values of ``scenario``: the deck's eight sales scenarios, general CSP guidance,
and questions the deck does not answer."""

_REQUIRED = ("id", "question", "scenario", "slides", "facts", "must_not", "abstain", "tags")
_OPTIONAL = ("source",)


class GoldError(RagError, ValueError):
    """A gold file is unreadable or a record in it is invalid (message: file, line, problem)."""


@dataclass(frozen=True, slots=True)
class GoldItem:
    """One gold question with what a good answer retrieves, says, avoids, or whether it abstains."""

    id: str
    question: str
    scenario: str
    slides: tuple[int, ...]
    """Relevant slide numbers, primary first; empty for out-of-scope questions."""
    facts: tuple[tuple[str, ...], ...]
    """Key facts; each is a group of acceptable phrasings (any one counts)."""
    must_not: tuple[str, ...]
    """Phrases a correct answer never contains (wrong guidance, hallucination bait)."""
    abstain: bool
    """True when the right outcome is an abstention (the deck does not answer it)."""
    tags: tuple[str, ...]
    source: str = DEFAULT_SOURCE

    @property
    def answerable(self) -> bool:
        """In scope: the system is expected to answer (not to abstain)."""
        return not self.abstain

    @property
    def primary_slide(self) -> int | None:
        return self.slides[0] if self.slides else None


_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark / apostrophe
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u2032": "'",  # prime
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u201f": '"',  # double high-reversed-9 quotation mark
        "\u2033": '"',  # double prime
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
    }
)


def normalise(text: str) -> str:
    """Lowercase, straighten curly quotes, turn dashes into ``-``, collapse whitespace, strip.

    The deck is typeset (curly apostrophes, en dashes) while gold phrases are typed by hand, so
    both sides go through this before any phrase is looked up.
    """
    return " ".join(text.lower().translate(_QUOTES).split())


def gold_sha256(path: Path | str) -> str:
    """Hex sha256 of the gold file's bytes: recorded in every run's provenance."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise GoldError(f"{path}: cannot read gold file ({exc.strerror})") from exc


def load_gold(path: Path | str) -> tuple[GoldItem, ...]:
    """Read and validate a gold JSONL file; blank lines are skipped, everything else is checked.

    Raises :class:`GoldError` naming the file, the 1-based line number and the problem.
    """
    return load_jsonl(path, "gold", _parse)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


def load_jsonl(path: Path | str, kind: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    """Every record of a JSONL file, each parsed by ``parse(record, "file:line")``, ids unique;
    blank lines skipped. :class:`GoldError` names the file, the line and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"{path}: cannot read {kind} file ({exc})") from exc
    items: list[T] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        item = parse(record, where)
        if item.id in seen:
            raise GoldError(f"{where}: duplicate id {item.id!r} (first used on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise GoldError(f"{path}: no {kind} records (the file is empty)")
    return tuple(items)


def _parse(record: Any, where: str) -> GoldItem:
    if not isinstance(record, dict):
        raise GoldError(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise GoldError(f"{where}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(record) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        allowed = ", ".join((*_REQUIRED, *_OPTIONAL))
        raise GoldError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})")

    item_id = _text(record["id"], "id", where)
    question = _text(record["question"], "question", where)
    scenario = _text(record["scenario"], "scenario", where)
    if scenario not in SCENARIOS:
        raise GoldError(f"{where}: scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
    slides = _slides(record["slides"], where)
    facts = _facts(record["facts"], where)
    must_not = _phrases(record["must_not"], "must_not", where)
    abstain = record["abstain"]
    if not isinstance(abstain, bool):
        raise GoldError(f"{where}: abstain must be true or false, got {abstain!r}")
    tags = _phrases(record["tags"], "tags", where)
    source = _text(record.get("source", DEFAULT_SOURCE), "source", where)

    if abstain and (slides or facts):
        raise GoldError(f"{where}: abstain is true, so slides and facts must both be []")
    if not abstain and not slides:
        raise GoldError(f"{where}: abstain is false, so slides must name at least one slide")
    if scenario == OUT_OF_SCOPE and not abstain:
        raise GoldError(f"{where}: scenario is {OUT_OF_SCOPE!r}, so abstain must be true")
    return GoldItem(
        id=item_id,
        question=question,
        scenario=scenario,
        slides=slides,
        facts=facts,
        must_not=must_not,
        abstain=abstain,
        tags=tags,
        source=source,
    )


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GoldError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _slides(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise GoldError(f"{where}: slides must be a list of slide numbers, got {value!r}")
    for slide in value:
        # bool is an int subclass: `true` is not slide 1.
        if isinstance(slide, bool) or not isinstance(slide, int) or slide < 1:
            raise GoldError(f"{where}: slides must hold positive whole numbers, got {slide!r}")
    if len(set(value)) != len(value):
        raise GoldError(f"{where}: slides {value!r} lists a slide twice")
    return tuple(value)


def _phrases(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise GoldError(f"{where}: {key} must be a list of strings, got {value!r}")
    for phrase in value:
        if not isinstance(phrase, str) or not normalise(phrase):
            raise GoldError(f"{where}: {key} must hold non-empty strings, got {phrase!r}")
    return tuple(value)


def _facts(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list):
        raise GoldError(f"{where}: facts must be a list of lists of phrases, got {value!r}")
    groups: list[tuple[str, ...]] = []
    for number, group in enumerate(value, start=1):
        if not isinstance(group, list) or not group:
            raise GoldError(
                f"{where}: fact {number} must be a non-empty list of acceptable phrases, "
                f"got {group!r}"
            )
        groups.append(_phrases(group, f"fact {number}", where))
    return tuple(groups)
