"""The synonym list and the question's intent, on plain text; the shipped list checked for review."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answering import compose_answer
from rag.config import AnswerConfig
from rag.datatypes import Passage
from rag.errors import CorpusError
from rag.intent import Role, Wants, can_give, read_intent, section_role
from rag.lexical import analyse
from rag.synonyms import Synonyms, duplicates, load_synonyms, parse, words
from tests.chunks import make_chunk
from tests.conftest import ROOT

LIST = Synonyms(
    (
        ("concessions", "discount", "price cut"),
        ("does not support", "can't deliver", "cannot deliver"),
        ("partner does support", "can deliver"),
    )
)


def test_phrases_match_stemmed_whole_words_with_negation_kept() -> None:
    assert LIST.matches("Can I offer DISCOUNTS to win?") == (0,)
    assert LIST.matches("their partner can't deliver it") == (1,)
    assert LIST.matches("their partner cant deliver it") == (1,)  # typed without the apostrophe
    assert LIST.matches("their partner can deliver it") == (2,)
    assert LIST.matches("a discounted rate") == (0,)  # stemmed: "discounted" is "discount"
    assert LIST.matches("the price that we cut") == ()  # a phrase is contiguous words
    assert LIST.matches("a pricecut") == ()


def test_both_sides_get_the_same_token_and_questions_get_the_guidance_wording() -> None:
    token = LIST.token(0)
    assert token in analyse("do not offer concessions to compete", LIST)  # the chunk's side
    assert token in analyse("can I give a discount?", LIST)  # the question's side
    assert LIST.expand("can I give a discount?") == "can I give a discount? (concessions)"
    assert LIST.expand("no concessions then?") == "no concessions then?"  # already in its words


def test_list_file_is_validated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_synonyms(tmp_path).groups == ()
    (tmp_path / "synonyms.json").write_text('{"groups": [["only one"]]}')
    with pytest.raises(CorpusError, match="at least two"):
        load_synonyms(tmp_path)
    (tmp_path / "synonyms.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        load_synonyms(tmp_path)


def test_shipped_list_reads_and_each_phrase_means_one_thing() -> None:
    synonyms = load_synonyms(ROOT / "corpus")
    assert len(synonyms.groups) >= 30
    assert duplicates(synonyms) == []
    deck = " ".join(words((ROOT / "corpus" / "csp-for-sellers.md").read_text(encoding="utf-8")))
    # the first phrase of each group is the guidance's own wording
    for group in synonyms.groups:
        assert " ".join(words(group[0])) in deck, group[0]
    raw = json.loads((ROOT / "corpus" / "synonyms.json").read_text(encoding="utf-8"))
    assert parse(raw, "synonyms.json").groups == synonyms.groups


@pytest.mark.parametrize(
    ("question", "role", "yes_no"),
    [
        ("What does the partner do when it can support the new workload?", Role.PARTNER, False),
        ("whats the partners role here", Role.PARTNER, False),
        ("cust is sticking with EA at renewal, does the partner still have a role?", Role.PARTNER, True),
        ("and the partner?", Role.PARTNER, False),
        ("what about their reseller", Role.PARTNER, False),
        ("can a CSP partner resell another partner's solution through the marketplace?", Role.PARTNER, True),
        ("should the reseller bring in another partner?", Role.PARTNER, True),
        ("does the partner need me to approve it?", Role.SELLER, True),
        ("what mindset should I have for an EA renewal", Role.MINDSET, False),
        ("how should I think about a customer leaving CSP?", Role.MINDSET, False),
        ("Can I offer discounts to win?", Role.SELLER, True),
        ("customer wants to go direct - should I give the partner a heads up?", Role.SELLER, True),
        ("what should I do when the partner pitches CSP", Role.SELLER, False),
        ("what does the partner want from me", Role.SELLER, False),
        ("is it EA or CSP that works better here", Role.SELLER, False),
    ],
)
def test_intent(question: str, role: Role, yes_no: bool) -> None:
    intent = read_intent(question)
    assert (intent.role, intent.yes_no) == (role, yes_no)


@pytest.mark.parametrize(
    ("question", "overview"),
    [
        ("list the scenarios this deck covers", True),
        ("is there a scenario for a customer swapping resellers?", True),
        ("which part of the guide do I follow for an EA renewal?", True),
        ("what should I do at an EA renewal?", False),
        ("which partner should I bring in?", False),
    ],
)
def test_a_question_about_the_scenarios_themselves(question: str, overview: bool) -> None:
    assert read_intent(question).overview is overview


@pytest.mark.parametrize(
    ("question", "overview", "about_the_guidance"),
    [
        ("which CSP scenarios does the deck talk about?", True, True),
        ("what's in this deck?", True, True),  # no "scenario", but only about the deck
        ("what does the guide cover?", True, True),
        ("is there a scenario for a customer swapping resellers?", True, False),  # asks about a case
        ("what scenario should I use for a pivot table in excel?", True, False),
        ("can I send this CSP deck to the partner?", False, False),
        ("where's the deck?", False, False),
    ],
)
def test_a_question_only_about_the_guidance_itself(question: str, overview: bool, about_the_guidance: bool) -> None:
    intent = read_intent(question)
    assert (intent.overview, intent.about_the_guidance) == (overview, about_the_guidance)


def test_section_roles() -> None:
    assert section_role("What should the seller do?") is Role.SELLER
    assert section_role("What should you do in this case?") is Role.SELLER
    assert section_role("What should the seller mindset be?") is Role.MINDSET
    assert section_role("What should you know?") is Role.MINDSET
    assert section_role("What does the partner do?") is Role.PARTNER
    assert section_role("Resources") is section_role(None) is Role.OTHER


def _vectors(table: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    unit = {k: np.asarray(v, np.float32) / np.linalg.norm(v) for k, v in table.items()}
    return lambda _source, s: unit[s.text]


def test_yes_no_question_gets_the_verdict_first_and_far_passages_give_nothing() -> None:
    q = np.asarray([1, 0, 0, 0], np.float32)
    vectors = _vectors({
        "Use empowerment in compete scenarios.": [1, 0.1, 0, 0],
        "Do not offer concessions to compete.": [0.9, 0, 0.3, 0],
        "Help customer understand CSP.": [1, 0.05, 0, 0],
        "Other scenario sentence.": [1, 0, 0, 0],
    })
    seller = make_chunk("s", 4, ["Use empowerment in compete scenarios.", "Do not offer concessions to compete."])
    partner = make_chunk("p", 4, ["Help customer understand CSP."], section="What does the partner do?", start=4500)
    other = make_chunk("o", 9, ["Other scenario sentence."])
    passages = [Passage(seller, 1.5, 1, 0.8, 2.0), Passage(partner, 1.47, 2, 0.8, 1.0),
                Passage(other, 1.2, 3, 0.8, 1.0)]
    cfg = AnswerConfig(min_evidence=0.5, duplicate_threshold=0.99)
    yes_no = compose_answer("Can I offer discounts to win?", passages, q, vectors, cfg, "v",
                            intent=read_intent("Can I offer discounts to win?"))
    assert yes_no.text.startswith("Do not offer concessions to compete. [1]")
    assert {c.location.slide for c in yes_no.citations} == {4}  # slide 9 scored too far behind to be quoted
    plain = compose_answer("how do I compete?", passages, q, vectors, cfg, "v", intent=read_intent("how do I compete?"))
    assert plain.text.startswith("Use empowerment in compete scenarios. [1]")
    assert "Other scenario sentence." not in plain.text


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("What does Microsoft 365 E3 cost per user per month?", Wants.FIGURE),
        ("how much does Unified Support cost for a big customer?", Wants.FIGURE),
        ("what margin does a reseller make?", Wants.FIGURE),
        ("how long does a move from CSP back to EA take?", Wants.FIGURE),
        ("how should I approach a long renewal?", Wants.GUIDANCE),
        ("who sets the price on a CSP deal, me or the partner?", Wants.GUIDANCE),
        ("what's the deadline for my Q4 forecast?", Wants.DATE),
        ("when should I involve the partner?", Wants.GUIDANCE),
        ("draft an email to the partner about co-sell", Wants.WRITING),
        ("Translate this paragraph into French: 'hello'", Wants.WRITING),
        ("give me the names of the best CSP partners in Germany", Wants.NAMES),
        ("is there a tool to find the best partners for my customer?", Wants.GUIDANCE),
        ("can I offer discounts to win?", Wants.GUIDANCE),
    ],
)
def test_what_kind_of_answer_a_question_wants(question: str, wants: Wants) -> None:
    assert read_intent(question).wants is wants


def test_only_a_passage_with_a_figure_gives_one_and_none_writes() -> None:
    assert can_give(Wants.GUIDANCE, "Share the lead with partner.")
    assert can_give(Wants.FIGURE, "Partners earn 15% on new seats.")
    assert not can_give(Wants.FIGURE, "Upsell to premium offers such as Microsoft 365 E5.")
    assert can_give(Wants.DATE, "Renewals close on 30 June.") and not can_give(Wants.DATE, "Renew early.")
    assert not can_give(Wants.WRITING, "Anything at all.") and not can_give(Wants.NAMES, "Partner Solution Finder")


def test_a_question_for_a_figure_the_guidance_does_not_quote_abstains() -> None:
    q = np.asarray([1, 0, 0, 0], np.float32)
    chunk = make_chunk("s", 9, ["Do not sell Unified Support to CSP customers."])
    vectors = _vectors({"Do not sell Unified Support to CSP customers.": [1, 0, 0, 0]})
    cfg = AnswerConfig(min_evidence=0.5)
    asked = "how much does Unified Support cost?"
    passages = [Passage(chunk, 2.0, 1, 0.9, 3.0)]
    answer = compose_answer(asked, passages, q, vectors, cfg, "v", intent=read_intent(asked))
    assert answer.abstained and not answer.citations
    plain = "can I sell Unified Support to a CSP customer?"
    answered = compose_answer(plain, passages, q, vectors, cfg, "v", intent=read_intent(plain))
    assert not answered.abstained


def test_a_sentence_that_carries_on_from_a_chosen_one_comes_with_it() -> None:
    q = np.asarray([1, 0, 0, 0], np.float32)
    texts = [
        "Confirm with the partner that they cannot support.",
        "Once confirmed, treat it as a net new opportunity.",
        "Select the solution and share this with the partners.",
    ]
    vectors = _vectors({texts[0]: [1, 0, 0, 0], texts[1]: [0, 1, 0, 0], texts[2]: [0.2, 0, 1, 0]})
    chunk = make_chunk("s", 6, texts)
    cfg = AnswerConfig(min_evidence=0.5, sentence_margin=0.3, terms_weight=0.0, lead_bonus=0.0)
    answer = compose_answer("the partner can't do it", [Passage(chunk, 2.0, 1, 0.9, 3.0)], q, vectors, cfg, "v")
    assert answer.text == f"{texts[0]} [1] {texts[1]} [1]"  # the far third sentence stays out


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("what does CSP actually stand for?", "CSP"),
        ("what's an MCA?", "MCA"),
        ("What is CMAT short for?", "CMAT"),
        ("what are PDMs?", "PDM"),
        ("whats an MCA and when does it come up with renewals?", None),  # asks more than the meaning
        ("what is new commerce?", None),
        ("what does the partner do?", None),
    ],
)
def test_a_question_that_asks_only_what_a_term_means(question: str, term: str | None) -> None:
    assert read_intent(question).defines == term
