"""Which sentences an answer quotes (rag.answering), on hand-made passages and vectors."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from rag.answering import compose_answer
from rag.config import AnswerConfig
from rag.datatypes import Passage
from rag.intent import Intent, Role
from tests.chunks import make_chunk

QUESTION = np.asarray([1, 0, 0, 0], np.float32)


def _compose(passages: list[Passage], cosines: dict[str, float], **kwargs):  # type: ignore[no-untyped-def]
    """The answer from ``passages``, each sentence's cosine with the question as given."""
    vectors = {t: np.asarray([c, math.sqrt(1 - c * c), 0, 0], np.float32) for t, c in cosines.items()}
    cfg = AnswerConfig(min_evidence=0.5, duplicate_threshold=0.99)
    return compose_answer("q", passages, QUESTION, lambda _source, s: vectors[s.text], cfg, "v",
                          sentence_terms=lambda text: frozenset(text.lower().split()), **kwargs)


def _answer(cosines: dict[str, float], home: list[str], other: list[str], behind: float):  # type: ignore[no-untyped-def]
    """An answer from a passage of slide 4 holding ``home`` and one of slide 9, ``behind``
    it, holding ``other``."""
    home_passage = Passage(make_chunk("h", 4, home), 1.5, 1, 0.8, 2.0)
    return _compose([home_passage, Passage(make_chunk("o", 9, other), 1.5 - behind, 2, 0.8, 1.0)], cosines)


def test_another_scenarios_sentence_is_quoted_only_when_it_fits_the_question_better() -> None:
    home = ["Work with the partner on the renewal.", "Define the customer's needs."]
    # closer to the question than anything on the best slide, by more than other_slide_lead
    earned = _answer({home[0]: 0.7, home[1]: 0.6, "Premier contracts do not carry over.": 0.8},
                     home, ["Premier contracts do not carry over."], behind=0.1)
    assert {c.location.slide for c in earned.citations} == {4, 9}
    assert "Premier contracts do not carry over. [" in earned.text
    # about as close as the best slide's own sentences: filler from a neighbouring scenario
    filler = _answer({home[0]: 0.7, home[1]: 0.6, "Share the lead with the partner.": 0.71},
                     home, ["Share the lead with the partner."], behind=0.01)
    assert {c.location.slide for c in filler.citations} == {4}
    # too far behind (more than other_slide_margin), however close
    far = _answer({home[0]: 0.7, home[1]: 0.6, "Premier contracts do not carry over.": 0.9},
                  home, ["Premier contracts do not carry over."], behind=0.3)
    assert {c.location.slide for c in far.citations} == {4}


def test_an_earned_sentence_brings_its_continuation_though_that_one_did_not_earn_a_place() -> None:
    home = ["Work with the partner on the renewal."]
    other = ["Confirm whether the customer keeps Premier.", "If not, plan the support change."]
    answer = _answer({home[0]: 0.6, other[0]: 0.8, other[1]: 0.3}, home, other, behind=0.1)
    assert "Confirm whether the customer keeps Premier. [2] If not, plan the support change. [2]" in answer.text
    # the same, with the continuation in the section's next chunk: a citation of its own,
    # scored as the sentence it comes with
    h, o1, o2 = make_chunk("h", 4, home), make_chunk("o1", 9, other[:1]), make_chunk("o2", 9, other[1:], start=9500)
    split = _compose(
        [Passage(h, 1.5, 1, 0.8, 2.0), Passage(o1, 1.4, 2, 0.8, 1.0)],
        {home[0]: 0.6, other[0]: 0.8, other[1]: 0.3},
        part_sections=lambda chunk: ((o1, o2),) if chunk.location.slide == 9 else ((h,),),
    )
    assert [c.chunk_id for c in split.citations] == ["h", "o1", "o2"]
    assert split.citations[2].score == split.citations[1].score


def test_a_sentence_that_points_back_comes_after_the_one_it_points_to() -> None:
    told, verdict = "The customer should tell their partner about the change.", "Don't announce this to the partner."
    other = "Work with the account team."
    section = make_chunk("h", 11, [told, verdict, other])
    answer = _compose([Passage(section, 1.5, 1, 0.8, 2.0)], {told: 0.1, verdict: 0.9, other: 0.5})
    # "this" needs its sentence: quoted together, in the deck's order, though only one was asked for
    assert answer.text.startswith(f"{told} [1] {verdict} [1]")


def test_a_question_about_the_scenarios_gets_the_whole_contents_list() -> None:
    entries = [f"Scenario name {i}" for i in range(1, 9)]
    contents = make_chunk("c", 3, ["Click on a scenario to open it", *entries])
    contents = replace(contents, navigational=True)
    scenario = make_chunk("s", 4, ["Work with the partner."])
    passages = [Passage(contents, 1.8, 1, 0.8, 2.0), Passage(scenario, 1.7, 2, 0.8, 2.0)]
    cosines = {s.text: 0.7 for c in (contents, scenario) for s in c.sentences}
    listed = contents_entries_of(contents)
    overview = _compose(passages, cosines, intent=Intent(Role.SELLER, False, overview=True),
                        contents_entries=listed)
    assert overview.text == " ".join(f"{e} [1]" for e in entries)
    # any other question is answered as usual, at most max_sentences from the list
    plain = _compose(passages, cosines, contents_entries=listed)
    assert len(plain.text.split(" [")) - 1 <= AnswerConfig().max_sentences


def contents_entries_of(contents):  # type: ignore[no-untyped-def]
    return lambda chunk: chunk.sentences[1:] if chunk is contents else ()


def test_what_an_acronym_stands_for_is_the_sentence_that_spells_it_out() -> None:
    plain = make_chunk("p", 4, ["Work with the partner."])
    spells = make_chunk(
        "s", 8, ["Buy under the Microsoft Customer Agreement.", "Work with the Partner Development Manager (PDM)."]
    )
    passages = [Passage(plain, 1.8, 1, 0.8, 2.0)]
    cosines = {"Work with the partner.": 0.9, spells.sentences[0].text: 0.6, spells.sentences[1].text: 0.5}
    table = {"MCA": ((spells, spells.sentences[0]),), "PDM": tuple((spells, s) for s in spells.sentences), "SMC": ()}
    ask = lambda term: _compose(passages, cosines, intent=Intent(Role.SELLER, False, defines=term),  # noqa: E731
                                spelled_out=table.get)
    assert ask("MCA").text == "Buy under the Microsoft Customer Agreement. [1]"
    assert ask("MCA").citations[0].location.slide == 8
    # the sentence that defines it ("… (PDM)") comes before a closer one that only uses it
    assert ask("PDM").text == "Work with the Partner Development Manager (PDM). [1]"
    # an acronym the guidance never spells out is not covered, however close its passages
    assert ask("SMC").abstained
    # a term that is no acronym is answered as any question
    assert ask("churn").text.startswith("Work with the partner.")


def test_a_tables_cells_past_the_best_one_are_left_out() -> None:
    cells = ["CSP sales incentive compensation information", "Partner Solution Finder", "Partner Co-sell Portal"]
    table = replace(make_chunk("t", 12, cells, section="Resources"), cells=True)
    cosines = {cells[0]: 0.9, cells[1]: 0.62, cells[2]: 0.88}
    answer = _compose([Passage(table, 1.8, 1, 0.8, 2.0)], cosines)
    # the two that name what was asked for, not the partner finder 0.28 behind
    assert answer.text == f"{cells[0]} [1] {cells[2]} [1]"
    # the same sentences as prose: each may join the answer
    prose = _compose([Passage(make_chunk("p", 12, cells, section="Resources"), 1.8, 1, 0.8, 2.0)], cosines)
    assert cells[1] in prose.text
