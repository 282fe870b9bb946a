from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunking import Budget, chunk_document, contents_entries, part_names
from rag.config import ChunkingConfig
from rag.corpus import load_corpus
from tests.conftest import CORPUS


def _words(text: str) -> int:
    return len(text.split())


WORD_BUDGET = Budget(count_tokens=_words, max_tokens=40, count_model_tokens=_words, max_model_tokens=60)


@pytest.fixture(scope="module")
def deck():  # type: ignore[no-untyped-def]
    return load_corpus(CORPUS)[0]


def test_chunks_follow_slides_and_sections_and_budgets(deck) -> None:  # type: ignore[no-untyped-def]
    chunks = chunk_document(deck, ChunkingConfig(max_tokens=40, overlap_sentences=1), WORD_BUDGET)
    segments = {(s.location.slide, s.location.section) for s in deck.segments}
    for c in chunks:
        assert (c.slide, c.section) in segments
        assert c.n_tokens <= 40 and c.n_model_tokens <= 60
        assert c.embed_text.endswith(c.text) and c.embed_text.startswith("CSP for Sellers — ")
        for s in c.sentences:
            assert deck.text[s.start : s.end] == s.text
            assert s.text in c.text
    # a long section is split with one sentence of overlap
    seller_do = [c for c in chunks if c.slide == 4 and c.section == "What should the seller do?"]
    assert len(seller_do) > 1
    assert seller_do[0].sentences[-1] == seller_do[1].sentences[0]


def test_single_segment_chunk_text_is_the_source_span(deck) -> None:  # type: ignore[no-untyped-def]
    chunks = chunk_document(deck, ChunkingConfig(), Budget(_words, 160, _words, 256))
    for c in chunks:
        if c.slide != 12:  # the table joins its cells with newlines
            assert deck.text[c.start : c.end] == c.text


def test_chunk_ids_are_stable_and_unique(deck) -> None:  # type: ignore[no-untyped-def]
    first = chunk_document(deck, ChunkingConfig(), WORD_BUDGET)
    again = chunk_document(load_corpus(CORPUS)[0], ChunkingConfig(), WORD_BUDGET)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)


def test_over_long_sentence_is_cut_at_words(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text(" ".join(f"word{i}" for i in range(100)) + ".")
    doc = load_corpus(tmp_path)[0]
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=30, overlap_sentences=0), Budget(_words, 30, _words, 40))
    assert all(c.n_tokens <= 30 for c in chunks)
    assert " ".join(c.text for c in chunks) == doc.text.strip()


def test_contents_slide_is_navigational(deck) -> None:  # type: ignore[no-untyped-def]
    chunks = chunk_document(deck, ChunkingConfig(), Budget(_words, 160, _words, 256))
    nav = {c.slide for c in chunks if c.navigational}
    assert nav == {3}


def test_contents_entries_are_the_sentences_naming_a_part(deck) -> None:  # type: ignore[no-untyped-def]
    chunks = chunk_document(deck, ChunkingConfig(), Budget(_words, 160, _words, 256))
    names = part_names(deck.parts)
    (contents,) = [c for c in chunks if c.navigational]
    entries = [s.text for s in contents_entries(contents, names)]
    # the eight scenarios, in the slide's order, without "Click on the scenario to go…"
    assert len(entries) == 8 and entries[0] == "New CSP deal being pitched by a partner to an EA customer"
    assert not any(e.startswith("Click") for e in entries)
    assert all(not contents_entries(c, names) for c in chunks if not c.navigational)


def test_a_documents_markings_are_not_indexed(deck) -> None:  # type: ignore[no-untyped-def]
    # slide 2 carries "Microsoft Confidential. For internal use only.": a label, not guidance
    assert "Microsoft Confidential." in deck.text
    chunks = chunk_document(deck, ChunkingConfig(), Budget(_words, 160, _words, 256))
    texts = [s.text for c in chunks for s in c.sentences]
    assert not any("Confidential" in t or "internal use only" in t for t in texts)
    assert any(t.startswith("Partners drive growth") for t in texts)  # the slide's guidance stays


def test_table_cells_are_marked(deck) -> None:  # type: ignore[no-untyped-def]
    chunks = chunk_document(deck, ChunkingConfig(), Budget(_words, 160, _words, 256))
    assert {(c.slide, c.section) for c in chunks if c.cells} == {(12, "Resources")}
