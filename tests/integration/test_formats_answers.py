"""Guidance in other formats, indexed with the deck: answers cite the right file and
slide, page or section — including a fact that exists only in speaker notes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.builder import build_index
from rag.pipeline import Pipeline
from tests.conftest import CORPUS, settings_for
from tests.unit.test_formats import pdf_bytes


def _pptx(path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Partner onboarding"
    first.placeholders[1].text_frame.text = "Register the partner in Partner Center before the first deal."
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Quarterly partner review"
    second.placeholders[1].text_frame.text = "Review pipeline and co-sell wins with the partner every quarter."
    second.notes_slide.notes_text_frame.text = (
        "Always bring the printed Azure consumption report to the quarterly partner review."
    )
    deck.save(str(path))


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Field handbook", level=0)
    document.add_heading("Travel approvals", level=1)
    document.add_paragraph("Customer visits abroad need a director's approval two weeks in advance.")
    document.save(str(path))


HTML = """<!doctype html><html><head><title>Deal desk</title><script>var x = 1;</script></head><body>
<nav>Home | Deal desk</nav><main><h1>Deal desk</h1><p>The deal desk supports sellers.</p>
<h2>Deal desk hours</h2><p>The deal desk answers pricing exceptions within two business days.</p></main></body></html>
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, embedder) -> Pipeline:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    _pptx(corpus / "onboarding.pptx")
    _docx(corpus / "handbook.docx")
    (corpus / "deal-desk.html").write_text(HTML)
    (corpus / "offers.pdf").write_bytes(
        pdf_bytes([["Marketplace guide", "Private offers are built in Partner Center."],
                   ["Expiry", "Marketplace private offers expire after 30 days unless the partner renews them."]])
    )
    settings = settings_for(index_dir=root / "index", corpus_dir=corpus)
    build_index(settings, embedder)
    return Pipeline.from_settings(settings, embedder=embedder)


@pytest.mark.parametrize(
    ("question", "source", "slide", "page", "section"),
    [
        ("What should I bring to the quarterly partner review?", "onboarding.pptx", 2, None, "Notes"),
        ("When must a partner be registered in Partner Center?", "onboarding.pptx", 1, None, None),
        ("When do marketplace private offers expire?", "offers.pdf", None, 2, None),
        ("Who has to approve a customer visit abroad, and how early?", "handbook.docx", None, None,
         "Travel approvals"),
        ("How fast does the deal desk answer pricing exceptions?", "deal-desk.html", None, None, "Deal desk hours"),
    ],
)
def test_answers_cite_the_other_formats(mixed: Pipeline, question: str, source: str, slide: int | None,
                                        page: int | None, section: str | None) -> None:
    answer = mixed.answer(question)
    assert not answer.abstained, question
    first = answer.citations[0]
    assert first.location.place == (source, slide, page), first
    if section is not None:
        assert first.location.section == section
    assert first.quote in answer.text.replace(f" [{first.n}]", "")  # quoted verbatim


def test_deck_questions_still_cite_the_deck(mixed: Pipeline) -> None:
    answer = mixed.answer("Who handles billing questions once my customer buys through a CSP partner?")
    assert answer.citations[0].location.place == ("csp-for-sellers.md", 9, None)
    sources = {s.source for s in mixed.sources()}
    assert sources == {"csp-for-sellers.md", "onboarding.pptx", "handbook.docx", "deal-desk.html", "offers.pdf"}
