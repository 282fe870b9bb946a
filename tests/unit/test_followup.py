"""Which questions lean on the thread, and which earlier turn they lean on."""

from __future__ import annotations

import pytest

from rag.datatypes import Turn
from rag.followup import context_of, is_elliptical


@pytest.mark.parametrize(
    "question",
    ["Should I tell the partner?", "and the partner?", "what if they refuse?", "who do I call?", "why?",
     "do they need to know about it?", "can the partner bring in another partner themselves?"],
)
def test_elliptical(question: str) -> None:
    assert is_elliptical(question)


@pytest.mark.parametrize(
    "question",
    ["My customer wants to move from CSP back to EA, should I tell the partner?",
     "customer has an upcoming EA renewal and wants to buy through a new partner"],
)
def test_self_contained(question: str) -> None:
    assert not is_elliptical(question)


def test_context_is_the_latest_answered_turn_with_its_own_context() -> None:
    history = (
        Turn("My customer wants to move from CSP back to EA.", ("c11",)),
        Turn("Should I tell the partner?", ("c11b",)),
        Turn("what's the weather", ()),  # abstained: cited nothing
    )
    context = context_of("and who talks to the PDM?", history)
    assert context is not None and context.turn == 1 and context.chunk_ids == ("c11b",)
    # the turn it leans on was a follow-up itself: the question before it comes along
    assert context.text == "My customer wants to move from CSP back to EA. Should I tell the partner?"
    assert context_of("and who talks to the PDM?", ()) is None
    assert context_of("customer has an upcoming EA renewal and wants a new partner", history) is None
