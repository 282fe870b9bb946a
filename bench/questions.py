"""The questions the HTTP benchmark sends: varied, in sellers' own words, a few out of scope.

The service caches answers by normalised question (case and spacing), so a rotating set
measures cache hits once each question has been asked; :func:`unique_questions` appends
a distinct ``" (case N)"`` so that every request is a cache miss (new embedding, new
retrieval, new answer).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

IN_SCOPE = (
    "A partner is pitching a new CSP deal to my EA customer. What should I do?",
    "partner wants to move my enterprise account to CSP, do I co-sell or fight it?",
    "How do I upsell into a customer who already bought through CSP?",
    "where do I find upsell leads in a CSP account",
    "The current partner cannot support a new workload the customer wants. What now?",
    "customer needs a product their reseller doesn't offer",
    "the partner can support the new product for our CSP customer, how do we formalise the co-sell?",
    "My customer's Enterprise Agreement is up for renewal soon. How should I handle it?",
    "EA renewal coming up and the customer is asking about CSP, what do I tell them?",
    "Who supports a customer that moved from EA to CSP?",
    "after moving to CSP can the customer still get Premier support?",
    "Who handles billing questions once my customer buys through a CSP partner?",
    "The customer wants to change CSP partner. How does that work?",
    "is there tooling for partner to partner transitions",
    "The customer wants to move from CSP back to an EA.",
    "is moving a customer from breadth to enterprise motion a good idea",
    "do CSP deals count toward my revenue and consumption goals?",
    "how many CSP sales scenarios does the guidance cover",
    "where's the doc that compares buying via CSP vs an EA?",
    "what does respecting partner incumbency mean for me?",
    "Should I share the lead with the partner?",
    "how do I find out who the partner of record is",
    "what is CMAT used for",
    "what is the PDM and how do I find them",
    "a partner and I are both working the same account, who leads?",
    "customer is unhappy with their CSP partner's support, what can I do",
    "Can a customer buy some products through CSP and keep the rest on their EA?",
    "what should the partner do when the customer moves from EA to CSP",
    "who do I talk to about a partner transition",
    "What does the seller do in scenario 3?",
)
"""Thirty questions the guidance answers, phrased as sellers ask them."""

OUT_OF_SCOPE = (
    "What is the weather like on Mars?",
    "What is today's stock price?",
    "How do I reset my laptop password?",
    "Recommend a good restaurant near the office",
    "what's the capital of Australia",
    "How many vacation days do I get this year?",
)
"""Questions the guidance does not cover: the service should abstain."""

QUESTIONS = IN_SCOPE + OUT_OF_SCOPE

UNIQUE_WARMUP = 20
"""Unique questions asked before the cache-miss levels are measured (not timed)."""


def repeated_questions(questions: tuple[str, ...] = QUESTIONS) -> Iterator[str]:
    """The set over and over: after the first round every request is a cache hit."""
    return itertools.cycle(questions)


def first_level_questions(n: int) -> list[str]:
    """The first ``n`` questions the 1-client cache-miss level sends: a run's unique
    questions start at case 1, and the first ``UNIQUE_WARMUP`` of them warm the server up.
    The encode floor times these same texts, so the answer/encode ratio compares like with like."""
    return list(itertools.islice(unique_questions(itertools.count(1)), UNIQUE_WARMUP, UNIQUE_WARMUP + n))


def unique_questions(counter: Iterator[int], questions: tuple[str, ...] = QUESTIONS) -> Iterator[str]:
    """The set with a distinct ``" (case N)"`` each time, N drawn from ``counter``.

    Share one ``counter`` for a whole run so no question is ever repeated against the
    same server (its caches live as long as the process).
    """
    for question, n in zip(itertools.cycle(questions), counter):
        yield f"{question} (case {n})"
