from __future__ import annotations

from rag.sentences import lexicon, split_sentences


def _split(text: str, extra: str = "") -> list[str]:
    out = split_sentences(text, 0, lexicon(text + " " + extra))
    for s in out:
        assert text[s.start : s.end] == s.text
    return [s.text for s in out]


def test_plain_sentences_and_abbreviations() -> None:
    text = "Do this first. Then do that (e.g., biz apps, data). Credits, etc. are fine! Done?"
    assert _split(text) == [
        "Do this first.",
        "Then do that (e.g., biz apps, data).",
        "Credits, etc. are fine!",
        "Done?",
    ]


def test_run_together_bullets_are_recovered() -> None:
    text = (
        "Understand the needs of the breadth motion Work with the partner on value "
        "With the partner, identify growth"
    )
    assert _split(text, "work with") == [
        "Understand the needs of the breadth motion",
        "Work with the partner on value",
        "With the partner, identify growth",
    ]


def test_proper_nouns_and_function_words_do_not_split() -> None:
    text = "Customers cannot purchase Unified Support through the Customer Management Agent Tool today."
    assert _split(text, "customer management") == [text]


def test_acronym_and_parenthesis_before_a_bullet() -> None:
    text = "Buy through CSP Customer wants to migrate. Use OCP Insights (microsoft.com) Refer partners"
    assert _split(text, "customer refer") == [
        "Buy through CSP",
        "Customer wants to migrate.",
        "Use OCP Insights (microsoft.com)",
        "Refer partners",
    ]


def test_an_aside_split_in_two_is_quoted_without_its_lone_brackets() -> None:
    text = (
        "Share the lead. (Scenario may differ if the customer has a partner. If a referral is "
        "needed, provide three or more partners). Let the partner lead (if it can)."
    )
    assert _split(text) == [
        "Share the lead.",
        "Scenario may differ if the customer has a partner.",
        "If a referral is needed, provide three or more partners",
        "Let the partner lead (if it can).",
    ]
    # an aside closed within its sentence keeps its brackets
    assert _split("(Direct markets only) Refer partners", "refer") == ["(Direct markets only)", "Refer partners"]


def test_a_lone_bracket_is_no_sentence() -> None:
    assert _split("(") == [] and _split("Refer partners )") == ["Refer partners"]
