"""Loaders for .pptx, .pdf, .docx and .html, and what happens to files that cannot be loaded.

Every test file is generated here, in tmp_path: python-pptx and python-docx write
their own formats, the PDF is written by hand (pypdf then adds an outline or
encryption), the HTML is a string.
"""

from __future__ import annotations

import io
import logging
import random
import sys
from pathlib import Path

import pytest

from rag.chunking import Budget, chunk_document
from rag.cli import main, render_load_summary
from rag.config import ChunkingConfig
from rag.corpus import LoadReport, Skipped, corpus_fingerprint, load_corpus, load_corpus_report
from rag.datatypes import Chunk, Document
from rag.errors import CorpusError, DependencyError

QUESTION = "What should the seller do?"


# --------------------------------------------------------------------------- generated files


def write_pptx(path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Partners may drive CSP deals"
    body = first.placeholders[1].text_frame
    body.text = "Partners sell through CSP to managed customers."
    for line in (QUESTION, "Work with the partner on value.\vKeep the customer informed."):
        body.add_paragraph().text = line
    first.notes_slide.notes_text_frame.text = "Mention the billing change.\nAsk about renewal dates."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Learn more"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for (row, col), text in {(0, 0): "Resource", (0, 1): "Where", (1, 0): "Partner Center", (1, 1): "Online"}.items():
        table.cell(row, col).text = text
    deck.save(str(path))


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one Helvetica text line per entry, written object by object."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        shown = [b"(%s) Tj T*" % line.replace("(", "\\(").replace(")", "\\)").encode("latin-1") for line in lines]
        stream = b"\n".join([b"BT /F1 12 Tf 14 TL 72 720 Td", *shown, b"ET"])
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


GUIDE_PAGES = [
    ["Purchasing guide", "Partners bill the customer", "every month.", "", "- Pay by invoice", "- Pay by card"],
    ["Billing", "Invoices come from the partner (not Microsoft).", "Credits follow the contract."],
]


def rewrite_pdf(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(data))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_outline(writer) -> None:  # type: ignore[no-untyped-def]
    writer.add_outline_item(title="Billing", page_number=1)
    writer.add_metadata({"/Title": "Purchasing Guide"})


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Seller guide", level=0)
    document.add_paragraph("Read this before a CSP deal.")
    document.add_heading("Billing", level=1)
    document.add_paragraph("Partners bill monthly.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Who", "Bills"
    table.cell(1, 0).merge(table.cell(1, 1)).text = "The partner, always"
    document.add_heading("Renewals", level=2)
    document.add_paragraph("Renew before the EA ends.")
    document.save(str(path))


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>CSP &amp; sellers</title>
<style>p { color: red }</style><script>var hidden = "SCRIPT TEXT";</script></head><body>
<header><a href="/">SITE BANNER</a></header>
<nav><ul><li>Home</li><li>NAV LINK</li></ul></nav>
<main><article><header><h1>Partner guide</h1></header>
<p>Intro with <b>bold</b> words.</p>
<h2>Billing</h2><p>Partners bill monthly.</p>
<ul><li>First item</li><li>Second item</li></ul>
<h2>Renewals</h2><p>Renew early.</p><noscript>NOSCRIPT TEXT</noscript>
</article></main>
<footer>FOOTER TEXT</footer></body></html>
"""


def _words(text: str) -> int:
    return len(text.split())


def assert_verbatim(doc: Document) -> list[Chunk]:
    """Segments and every chunk sentence are exact spans of the document text."""
    for seg in doc.segments:
        assert doc.text[seg.start : seg.end] == seg.text
    chunks = chunk_document(doc, ChunkingConfig(), Budget(_words, 40, _words, 60))
    assert chunks
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end].startswith(chunk.sentences[0].text)
        for sentence in chunk.sentences:
            assert doc.text[sentence.start : sentence.end] == sentence.text
    return chunks


def _load(folder: Path, name: str) -> Document:
    return next(d for d in load_corpus(folder) if d.source == name)


# --------------------------------------------------------------------------- formats


def test_pptx_slides_sections_tables_and_notes(tmp_path: Path) -> None:
    write_pptx(tmp_path / "deck.pptx")
    doc = _load(tmp_path, "deck.pptx")
    assert doc.title == "Partners may drive CSP deals"
    assert [(p.slide, p.page, p.title) for p in doc.parts] == [
        (1, None, "Partners may drive CSP deals"),
        (2, None, "Learn more"),
    ]
    assert [(s.location.slide, s.location.section, s.text) for s in doc.segments] == [
        (1, None, "Partners sell through CSP to managed customers."),
        (1, QUESTION, "Work with the partner on value.\nKeep the customer informed."),
        (1, "Notes", "Mention the billing change."),
        (1, "Notes", "Ask about renewal dates."),
        (2, "Table", "Resource"),
        (2, "Table", "Where"),
        (2, "Table", "Partner Center"),
        (2, "Table", "Online"),
    ]
    assert all(s.location.title == doc.parts[s.location.slide - 1].title for s in doc.segments if s.location.slide)
    chunks = assert_verbatim(doc)
    notes = [c for c in chunks if c.section == "Notes"]
    assert [(c.slide, c.text) for c in notes] == [(1, "Mention the billing change.\nAsk about renewal dates.")]


def test_pdf_pages_are_one_based_and_outline_entries_are_sections(tmp_path: Path) -> None:
    plain = pdf_bytes(GUIDE_PAGES)
    (tmp_path / "plain.pdf").write_bytes(plain)
    (tmp_path / "outlined.pdf").write_bytes(rewrite_pdf(plain, with_outline))

    doc = _load(tmp_path, "plain.pdf")
    assert doc.title == "plain" and [(p.page, p.title) for p in doc.parts] == [(1, "Page 1"), (2, "Page 2")]
    assert {s.location.section for s in doc.segments} == {None}
    assert [(s.location.page, s.text) for s in doc.segments] == [
        (1, "Purchasing guide Partners bill the customer every month."),
        (1, "- Pay by invoice"),
        (1, "- Pay by card"),
        (2, "Billing Invoices come from the partner (not Microsoft). Credits follow the contract."),
    ]
    assert_verbatim(doc)

    doc = _load(tmp_path, "outlined.pdf")
    assert doc.title == "Purchasing Guide" and [p.title for p in doc.parts] == ["Page 1", "Billing"]
    assert [(s.location.page, s.location.section) for s in doc.segments][-1] == (2, "Billing")
    assert doc.segments[-1].text == "Invoices come from the partner (not Microsoft). Credits follow the contract."
    assert {c.page for c in assert_verbatim(doc)} == {1, 2}


def test_pdf_with_restrictions_only_is_read(tmp_path: Path) -> None:
    """Encrypted with an owner password and an empty user password: it opens without one."""
    restricted = rewrite_pdf(pdf_bytes(GUIDE_PAGES), lambda w: w.encrypt("", "owner", algorithm="AES-256"))
    (tmp_path / "restricted.pdf").write_bytes(restricted)
    assert _load(tmp_path, "restricted.pdf").segments[0].text.startswith("Purchasing guide")


def test_docx_headings_become_sections(tmp_path: Path) -> None:
    write_docx(tmp_path / "guide.docx")
    doc = _load(tmp_path, "guide.docx")
    assert doc.title == "Seller guide"
    assert [(p.slide, p.page, p.title) for p in doc.parts] == [(None, None, "Seller guide")]
    assert [(s.location.section, s.text) for s in doc.segments] == [
        ("Seller guide", "Read this before a CSP deal."),
        ("Billing", "Partners bill monthly."),
        ("Billing", "Who"),
        ("Billing", "Bills"),
        ("Billing", "The partner, always"),  # a merged cell once, not once per grid cell
        ("Renewals", "Renew before the EA ends."),
    ]
    assert "Renewals" in doc.text and all(s.text != "Renewals" for s in doc.segments)
    assert_verbatim(doc)


def test_html_headings_become_sections_and_page_chrome_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "legacy.htm").write_bytes(
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head>'
        b"<body><h1>Caf\xe9</h1><p>Cr\xe8me \x96 br\xfbl\xe9e.</p></body></html>"
    )
    doc = _load(tmp_path, "page.html")
    assert doc.title == "CSP & sellers"
    assert [(s.location.section, s.text) for s in doc.segments] == [
        ("Partner guide", "Intro with bold words."),
        ("Billing", "Partners bill monthly."),
        ("Billing", "First item"),
        ("Billing", "Second item"),
        ("Renewals", "Renew early."),
    ]
    for dropped in ("SCRIPT TEXT", "color: red", "SITE BANNER", "NAV LINK", "NOSCRIPT TEXT", "FOOTER TEXT"):
        assert dropped not in doc.text
    assert_verbatim(doc)
    legacy = _load(tmp_path, "legacy.htm")
    assert legacy.title == "Café" and legacy.segments[0].text == "Crème – brûlée."


# --------------------------------------------------------------------------- files that cannot be loaded


def _noise(n: int = 2048) -> bytes:
    return bytes(random.Random(n).randrange(256) for _ in range(n))


@pytest.fixture()
def mixed_corpus(tmp_path: Path) -> Path:
    (tmp_path / "good.md").write_text("# Good\n\nPartners bill monthly.\n")
    for name in ("noise.pdf", "noise.pptx", "noise.docx"):
        (tmp_path / name).write_bytes(_noise())
    write_docx(tmp_path / "word-file.pptx")  # a valid zip, but not a presentation
    (tmp_path / "locked.pdf").write_bytes(rewrite_pdf(pdf_bytes(GUIDE_PAGES), lambda w: w.encrypt("secret")))
    (tmp_path / "empty.docx").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\n")
    (tmp_path / "headings-only.md").write_text("# Title\n\n## Section\n")
    (tmp_path / "latin1.txt").write_bytes("Crème brûlée".encode("latin-1"))
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n")
    # Ignored without a warning: the glossary, hidden files and drafts.
    (tmp_path / "glossary.json").write_text('{"EA": "Enterprise Agreement"}')
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "_drafts").mkdir()
    (tmp_path / "_drafts" / "broken.pdf").write_bytes(_noise())
    return tmp_path


SKIPPED = {
    "blank.txt": "empty file",
    "empty.docx": "empty file",
    "headings-only.md": "no text to index",
    "latin1.txt": "not UTF-8 text",
    "locked.pdf": "encrypted",
    "noise.docx": "not a readable Word file",
    "noise.pdf": "not a readable PDF",
    "noise.pptx": "not a readable PowerPoint file",
    "photo.png": "unsupported file type '.png'",
    "word-file.pptx": "not a readable PowerPoint file",
}


def test_bad_files_are_skipped_with_one_warning_each(mixed_corpus: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        report = load_corpus_report(mixed_corpus)
    assert [d.source for d in report.documents] == ["good.md"]
    assert [s.source for s in report.skipped] == sorted(SKIPPED)
    for skipped in report.skipped:
        assert SKIPPED[skipped.source] in skipped.reason, skipped
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == len(SKIPPED)  # and nothing from pypdf without a file name
    for message, skipped in zip(warnings, report.skipped, strict=True):
        assert message == f"skipped corpus file {skipped.source}: {skipped.reason}"
    # load_corpus keeps its old shape for callers.
    assert [d.source for d in load_corpus(mixed_corpus)] == ["good.md"]


def test_strict_turns_any_skipped_file_into_an_error(mixed_corpus: Path) -> None:
    with pytest.raises(CorpusError, match="10 corpus file") as caught:
        load_corpus(mixed_corpus, strict=True)
    assert all(f"{name}: " in str(caught.value) for name in SKIPPED)
    assert "glossary.json" not in str(caught.value) and "_drafts" not in str(caught.value)


def test_nothing_loadable_is_an_error_that_says_why(tmp_path: Path) -> None:
    (tmp_path / "noise.pdf").write_bytes(_noise())
    with pytest.raises(CorpusError, match=r"no supported files .* skipped noise\.pdf: not a readable PDF"):
        load_corpus(tmp_path)


def test_fingerprint_covers_supported_files_even_when_skipped(mixed_corpus: Path) -> None:
    files = corpus_fingerprint(mixed_corpus)
    # the acronym glossary is no document, but it shapes the index: editing it makes it stale
    assert set(files) == {"good.md", "glossary.json", *SKIPPED} - {"photo.png"}


def test_missing_library_raises_with_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pptx(tmp_path / "deck.pptx")
    monkeypatch.setitem(sys.modules, "pptx", None)  # makes `import pptx` fail as if not installed
    with pytest.raises(DependencyError, match=r"pip install 'python-pptx'"):
        load_corpus(tmp_path)  # not skipped: the installation is at fault, not the file


# --------------------------------------------------------------------------- rag index


def test_index_strict_fails_before_loading_the_model(
    mixed_corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_CORPUS_DIR", str(mixed_corpus))
    monkeypatch.setenv("RAG_INDEX_DIR", str(mixed_corpus / "_index"))
    assert main(["index", "--strict"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: 10 corpus file(s) could not be indexed") and "locked.pdf: encrypted" in err
    assert len(err.strip().splitlines()) == 1


def test_load_summary_lists_chunks_per_file_and_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nOne.\n\n## B\n\nTwo.\n")
    doc = load_corpus(tmp_path)[0]
    chunks = chunk_document(doc, ChunkingConfig(), Budget(_words, 40, _words, 60))
    report = LoadReport((doc,), (Skipped("bad.pdf", "not a readable PDF"),))
    assert render_load_summary(report, chunks).splitlines() == [
        "corpus: 1 file(s) indexed, 1 skipped",
        "  a.md      2 chunks",
        "  skipped bad.pdf: not a readable PDF",
    ]
