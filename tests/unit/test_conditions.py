"""Conditions a question and a scenario's name state (rag.conditions)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.conditions import Conditions, agreements, conflicts, read_conditions


@pytest.mark.parametrize(
    ("text", "partner_can", "toward_csp"),
    [
        ("New workload for existing CSP customer, but current partner does not support this workload", -1, 0),
        ("New workload for existing CSP customer, and partner does support the solution", 1, 0),
        ("Customer moves from EA to CSP and has product or licensing support needs", 0, 1),
        ("Customer wants to migrate from CSP to EA or an MCA through their account team", 0, -1),
        ("New CSP deal being pitched by a partner to an EA customer", 0, 0),  # "to an EA customer": no route
        ("the reseller can't deliver the security product", -1, 0),
        ("their partner can deliver it - anything for me to do?", 1, 0),
        ("not sure their partner can deliver it", 0, 0),  # a doubt states nothing
        ("can the partner support it?", 0, 0),  # nor does a question about it
        ("does the guidance cover renewals?", 0, 0),  # the partner's ability is not meant
        ("customer wants to go direct with us", 0, -1),
        ("moving a customer off CSP", 0, -1),
        ("customer is leaving CSP for an MCA", 0, -1),
        ("customer might move off their EA to a CSP partner", 0, 1),
        ("customer wants to switch CSP partners", 0, 0),  # partners, not a route
        # a move already made reads as a move: past tenses, and "their" before the route
        ("customer left their EA for a partner", 0, 1),
        ("customer switched to CSP last year", 0, 1),
        ("they moved to an EA and regret nothing", 0, -1),
        ("customer wants to leave their CSP partner and buy through an EA again", 0, -1),
        ("partner says they don't do biz apps", -1, 0),
        # the route a move starts from is not where it goes
        ("cust moving EA to CSP - what's the main support caveat?", 0, 1),
        ("customer goes EA -> CSP", 0, 1),
        ("they go CSP -> EA", 0, -1),
        ("CSP customer wants to move to EA to save money", 0, -1),
    ],
)
def test_read_conditions(text: str, partner_can: int, toward_csp: int) -> None:
    assert read_conditions(text) == Conditions(partner_can, toward_csp)


def test_only_opposite_statements_conflict() -> None:
    # scenarios: cannot serve, can serve, to CSP, away from CSP, says nothing
    can = np.asarray([-1, 1, 0, 0, 0])
    toward = np.asarray([0, 0, 1, -1, 0])
    assert conflicts(Conditions(-1, 0), can, toward).tolist() == [0, 1, 0, 0, 0]
    assert conflicts(Conditions(1, -1), can, toward).tolist() == [1, 0, 1, 0, 0]
    assert conflicts(Conditions(), can, toward).tolist() == [0, 0, 0, 0, 0]
    assert conflicts(Conditions(-1, -1), np.asarray([1]), np.asarray([1])).tolist() == [2]


def test_only_the_same_partner_ability_agrees() -> None:
    can = np.asarray([-1, 1, 0])  # cannot serve, can serve, says nothing
    assert agreements(Conditions(-1, 0), can).tolist() == [1, 0, 0]
    assert agreements(Conditions(1, 1), can).tolist() == [0, 1, 0]
    assert agreements(Conditions(0, -1), can).tolist() == [0, 0, 0]  # the direction earns nothing
