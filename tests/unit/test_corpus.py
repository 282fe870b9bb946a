from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import corpus_fingerprint, load_corpus
from rag.errors import CorpusError
from tests.conftest import CORPUS

ROLE_SECTIONS = {"What should the seller do?", "What should the seller mindset be?", "What does the partner do?"}


@pytest.fixture(scope="module")
def deck():  # type: ignore[no-untyped-def]
    return next(d for d in load_corpus(CORPUS) if d.source == "csp-for-sellers.md")


def test_deck_has_13_slides_with_titles(deck) -> None:  # type: ignore[no-untyped-def]
    assert [p.slide for p in deck.parts] == list(range(1, 14))
    titles = {p.slide: p.title for p in deck.parts}
    assert titles[1].startswith("Cloud Solution Provider deals in managed accounts – your role as a Microsoft")
    assert titles[2] == "Partners may drive CSP deals for managed customer accounts"
    assert titles[3] == "Cloud Solution Provider (CSP) sales scenarios covered"
    assert titles[4] == "Scenario 1: New CSP deal being pitched by a partner to an EA customer"
    assert titles[8] == "Scenario 5: Customer has an upcoming EA renewal"
    assert titles[10] == (
        "Scenario 7: Customer needs to change from current partner to another partner selling through CSP"
    )
    assert titles[12] == "Learn more about CSP and other cloud service purchasing options"
    assert titles[13] == "Thank you."


def test_scenario_slides_have_the_three_role_sections(deck) -> None:  # type: ignore[no-untyped-def]
    for slide in range(4, 12):
        sections = {s.location.section for s in deck.segments if s.location.slide == slide}
        assert sections == ROLE_SECTIONS, slide
        part = deck.parts[slide - 1]
        assert part.scenario and part.title == f"Scenario {slide - 3}: {part.scenario}"


def test_general_slide_sections_table_and_metadata(deck) -> None:  # type: ignore[no-untyped-def]
    assert {s.location.section for s in deck.segments if s.location.slide == 2} >= {
        "What should you do in this case?",
        "What should you know?",
    }
    cells = [s.text for s in deck.segments if s.location.slide == 12]
    assert cells[0] == "Cloud services purchasing guidance resources site"
    assert "Partner Co-sell Portal" in cells and all("|" not in c for c in cells)
    assert deck.title == "CSP for Sellers"
    assert deck.metadata["source"] == "CSP for Sellers.pptx"


def test_every_segment_is_a_verbatim_span_without_markup(deck) -> None:  # type: ignore[no-untyped-def]
    for seg in deck.segments:
        assert deck.text[seg.start : seg.end] == seg.text
        assert "![" not in seg.text and "<!--" not in seg.text and not seg.text.startswith("#")
        assert "What should the seller do?" not in seg.text  # headings become sections


def test_plain_markdown_text_and_notes(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text("# Purchasing guide\n\nIntro line.\n\n## Billing\n\nPartners bill monthly.\n")
    (tmp_path / "memo.txt").write_text("First paragraph.\n\nSecond paragraph.\n")
    (tmp_path / "deck.md").write_text(
        "<!-- Slide number: 1 -->\n# Only slide\nBody text here.\n\n### Notes:\nSpeaker says hello.\n"
    )
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs = {d.source: d for d in load_corpus(tmp_path)}
    assert set(docs) == {"guide.md", "memo.txt", "deck.md"}
    guide = docs["guide.md"]
    assert guide.title == "Purchasing guide"
    assert [(s.location.section, s.text) for s in guide.segments] == [
        ("Purchasing guide", "Intro line."),
        ("Billing", "Partners bill monthly."),
    ]
    assert [s.text for s in docs["memo.txt"].segments] == ["First paragraph.", "Second paragraph."]
    notes = [s for s in docs["deck.md"].segments if s.location.section == "Notes"]
    assert [n.text for n in notes] == ["Speaker says hello."]


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no supported files"):
        load_corpus(tmp_path)


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nText.\n")
    first = corpus_fingerprint(tmp_path)
    (tmp_path / "a.md").write_text("# A\n\nOther text.\n")
    assert corpus_fingerprint(tmp_path)["a.md"] != first["a.md"]
