"""Answer metrics (pure): facts, forbidden phrases, citations and abstention.

- Facts and forbidden phrases are matched on :func:`~eval.gold.normalise`-d text, at word
  boundaries (``"ea"`` does not match inside ``"each"``).
- Citations: precision = cited slides that are relevant / cited slides, recall = relevant slides
  cited / relevant slides; both 0.0 when nothing is cited (an uncited answer is ungrounded).
- Abstention is a binary classification over the whole set: precision = correct abstentions /
  abstentions, recall = correct abstentions / questions that should be abstained on,
  false-abstention rate = abstentions on in-scope questions / in-scope questions; a ratio
  with an empty denominator is None.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

from eval.gold import normalise
from eval.retrieval_metrics import dedupe
from eval.stats import ratio

H = TypeVar("H", bound=Hashable)

# --- text -------------------------------------------------------------------------------------


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` after normalising both, at word boundaries.

    A boundary is only required where the phrase itself starts or ends with a letter or digit,
    so ``"(csp)"`` still matches in ``"buy (csp)."``.
    """
    needle = normalise(phrase)
    if not needle:
        return False
    pattern = re.escape(needle)
    if needle[0].isalnum():
        pattern = r"(?<!\w)" + pattern
    if needle[-1].isalnum():
        pattern += r"(?!\w)"
    return re.search(pattern, normalise(text)) is not None


_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


def answer_words(text: str) -> int:
    """Words in an answer: whitespace-separated tokens with a letter or digit in them.

    Citation markers such as ``[1]`` or ``[1, 2]`` are not words; ``co-sell`` is one word.
    """
    return sum(1 for token in _MARKER.sub(" ", text).split() if any(c.isalnum() for c in token))


# --- answer content ---------------------------------------------------------------------------


def missing_facts(answer: str, facts: Sequence[Sequence[str]]) -> tuple[int, ...]:
    """0-based indices of the fact groups none of whose phrases occur in the answer."""
    return tuple(
        i for i, group in enumerate(facts) if not any(contains_phrase(answer, p) for p in group)
    )


def fact_coverage(answer: str, facts: Sequence[Sequence[str]], *, abstained: bool = False) -> float:
    """Fraction of fact groups with at least one phrase in the answer.

    An abstention covers nothing (0.0), whatever its text says; an answer to a question with
    no fact groups covers everything (1.0).
    """
    if abstained:
        return 0.0
    if not facts:
        return 1.0
    return 1.0 - len(missing_facts(answer, facts)) / len(facts)


def must_not_violations(answer: str, must_not: Iterable[str]) -> tuple[str, ...]:
    """The forbidden phrases that occur in the answer, in gold order."""
    return tuple(phrase for phrase in must_not if contains_phrase(answer, phrase))


# --- citations --------------------------------------------------------------------------------


def citation_precision(cited: Iterable[H], relevant: Iterable[H]) -> float:
    """Distinct cited ids that are relevant / distinct cited ids (0.0 when nothing is cited)."""
    distinct = dedupe(cited)
    if not distinct:
        return 0.0
    wanted = set(relevant)
    return sum(1 for doc in distinct if doc in wanted) / len(distinct)


def citation_recall(cited: Iterable[H], relevant: Iterable[H]) -> float:
    """Distinct relevant ids that are cited / distinct relevant ids (0.0 when none relevant)."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return len(wanted & set(cited)) / len(wanted)


# --- abstention (whole set) -------------------------------------------------------------------


def abstention_metrics(
    expected: Sequence[bool], abstained: Sequence[bool]
) -> dict[str, float | None]:
    """Precision, recall and false-abstention rate of abstaining, over paired flags.

    ``expected[i]`` is the gold ``abstain`` of question i, ``abstained[i]`` what the system did.
    A figure whose denominator is empty is None.
    """
    if len(expected) != len(abstained):
        raise ValueError(f"{len(expected)} expectations but {len(abstained)} outcomes")
    pairs = list(zip(expected, abstained, strict=True))
    correct = sum(1 for e, a in pairs if e and a)
    false = sum(1 for e, a in pairs if a and not e)
    return {
        "abstention_precision": ratio(correct, sum(1 for _, a in pairs if a)),
        "abstention_recall": ratio(correct, sum(1 for e, _ in pairs if e)),
        "false_abstention_rate": ratio(false, sum(1 for e, _ in pairs if not e)),
    }
