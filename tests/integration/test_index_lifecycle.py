"""Real model, real FAISS, real files: build, persist, detect staleness, survive a crash."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.builder import build_index, build_spec, ensure_index, token_counter
from rag.datatypes import to_dict
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.index import DenseIndex, current_build, load_index, read_manifest, sentence_embed_text, stale_reasons
from rag.pipeline import Pipeline
from tests.conftest import CORPUS, settings_for


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    return folder


def test_built_index_is_consistent(index_dir: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=index_dir)
    index = load_index(index_dir)
    m = index.manifest
    assert m.n_chunks == len(index.chunks) == index.dense.size
    assert m.model_name == "all-MiniLM-L6-v2" and m.dimension == 384
    assert m.tokenizer == "tiktoken:cl100k_base"
    assert set(m.files) == {"csp-for-sellers.md", "glossary.json", "synonyms.json", "questions.json"}  # lists too
    assert stale_reasons(m, build_spec(settings, embedder, token_counter(settings, embedder))) == []
    for chunk in index.chunks:  # nothing exceeds either token limit
        assert chunk.n_tokens <= settings.chunking.max_tokens
        assert chunk.n_model_tokens <= embedder.max_tokens
        assert embedder.token_counter().count(chunk.embed_text) == chunk.n_model_tokens
    slides = {c.slide for c in index.chunks}
    assert slides == set(range(2, 13))  # slides 1 and 13 have no body text


def test_manifest_round_trips(index_dir: Path) -> None:
    folder = current_build(index_dir)
    manifest = read_manifest(folder)
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert to_dict(manifest) == on_disk
    assert set(manifest.artifacts) >= {"chunks.jsonl", "dense.faiss", "sentences.npy"}


def test_rebuild_of_unchanged_corpus_keeps_ids(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    first = build_index(settings, embedder)
    second = build_index(settings, embedder)
    assert [c.chunk_id for c in first.chunks] == [c.chunk_id for c in second.chunks]
    assert first.manifest.index_version == second.manifest.index_version


def test_changed_corpus_or_model_marks_index_stale(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    index = build_index(settings, embedder)
    deck = corpus_copy / "csp-for-sellers.md"
    deck.write_text(deck.read_text() + "\nA new line.\n")
    spec = build_spec(settings, embedder, token_counter(settings, embedder))
    assert stale_reasons(index.manifest, spec) == ["corpus file csp-for-sellers.md changed"]
    other_model = replace(spec, model_name="other-model", model_sha256="0" * 64)
    assert any("other-model" in r for r in stale_reasons(index.manifest, other_model))
    # a chunker that chunks the same text differently (a new CHUNKER_VERSION) rebuilds too
    other_chunker = replace(spec, chunking={**spec.chunking, "chunker": spec.chunking["chunker"] + 1})
    assert any("chunking" in r for r in stale_reasons(index.manifest, other_chunker))
    # refused with a message when auto-rebuild is off ...
    strict = replace(settings, index=replace(settings.index, auto_rebuild=False))
    with pytest.raises(IndexMismatchError, match=r"changed\. Run `rag index`"):
        Pipeline.from_settings(strict, embedder=embedder)
    # ... rebuilt by default
    rebuilt = Pipeline.from_settings(settings, embedder=embedder)
    assert rebuilt.manifest.index_version != index.manifest.index_version


def test_ensure_index_builds_a_missing_index_keeps_a_current_one(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    strict = replace(settings, index=replace(settings.index, auto_rebuild=False))
    with pytest.raises(IndexNotFoundError, match="run `rag index`"):
        ensure_index(strict, embedder)
    built = ensure_index(settings, embedder)
    assert built.path is not None and current_build(settings.index_dir) == built.path
    assert ensure_index(strict, embedder).path == built.path  # current: loaded, not rebuilt
    forced = ensure_index(strict, embedder, rebuild=True)  # asked for: built even without auto-rebuild
    assert forced.path != built.path and current_build(settings.index_dir) == forced.path
    assert forced.manifest.index_version == built.manifest.index_version


def test_interrupted_build_leaves_previous_index(
    tmp_path: Path, corpus_copy: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    good = build_index(settings, embedder)
    (corpus_copy / "extra.md").write_text("# Extra\n\nSome extra guidance.\n")

    def crash(self, path):  # type: ignore[no-untyped-def]
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(DenseIndex, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        build_index(settings, embedder)
    monkeypatch.undo()
    loaded = load_index(settings.index_dir)
    assert loaded.manifest.index_version == good.manifest.index_version
    assert not [p for p in (settings.index_dir / "builds").iterdir() if p.name.startswith(".tmp")]


def test_altered_artifact_is_detected(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    build_index(settings, embedder)
    chunks = current_build(settings.index_dir) / "chunks.jsonl"
    chunks.write_text(chunks.read_text()[:-100])
    with pytest.raises(IndexCorruptError, match=r"chunks\.jsonl is missing or altered"):
        load_index(settings.index_dir)
    # and the pipeline rebuilds rather than serving a broken index
    assert Pipeline.from_settings(settings, embedder=embedder).manifest.n_chunks > 0


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)

    def encode(self, texts, *, show_progress=False):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return self._inner.encode(texts, show_progress=show_progress)


def test_rebuild_embeds_only_changed_files(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    counting = CountingEmbedder(embedder)
    first = build_index(settings, counting)
    distinct = {c.embed_text for c in first.chunks}
    distinct |= {sentence_embed_text(c, s) for c in first.chunks for s in c.sentences}  # under their header
    distinct |= set(first.headings)  # scenario names and slide titles
    distinct |= {q for qs in first.questions.by_sentence.values() for q in qs}  # corpus/questions.json
    assert sorted(counting.texts) == sorted(distinct)  # repeated guidance is embedded once

    counting.texts.clear()
    (corpus_copy / "billing.md").write_text("# Billing guide\n\nPartners send the invoice every month.\n")
    second = build_index(settings, counting)
    assert second.manifest.n_chunks == first.manifest.n_chunks + 1
    # only the new file's chunk (its one sentence under the same header is the same text)
    # and its heading were embedded
    assert counting.texts == ["Billing guide\nPartners send the invoice every month.", "Billing guide"]

    counting.texts.clear()
    (corpus_copy / "billing.md").write_text("# Billing guide\n\nPartners send the invoice every quarter.\n")
    build_index(settings, counting)
    assert all("quarter" in t for t in counting.texts) and len(counting.texts) == 1

    counting.texts.clear()
    (corpus_copy / "billing.md").unlink()
    third = build_index(settings, counting)
    assert counting.texts == []
    assert {c.source for c in third.chunks} == {"csp-for-sellers.md"}
    assert third.manifest.index_version == first.manifest.index_version
    # vectors reused from the cache equal freshly computed ones
    np.testing.assert_allclose(third.dense.vectors(), first.dense.vectors(), atol=1e-6)


def test_editing_a_sentence_s_questions_embeds_only_them_and_matches_a_fresh_build(
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    counting = CountingEmbedder(embedder)
    first = build_index(settings, counting)
    listed = json.loads((corpus_copy / "questions.json").read_text(encoding="utf-8"))
    entry = listed["sentences"][0]
    entry["questions"] = ["is a brand-new question about this sentence answered?"]
    (corpus_copy / "questions.json").write_text(json.dumps(listed), encoding="utf-8")

    counting.texts.clear()
    second = build_index(settings, counting)
    chunk = next(
        c for c in second.chunks if c.slide == entry["slide"] and any(s.text == entry["sentence"] for s in c.sentences)
    )
    sentence = next(s for s in chunk.sentences if s.text == entry["sentence"])
    # the sentence's own text (its blend changed) and its new question, nothing else
    assert sorted(counting.texts) == sorted([sentence_embed_text(chunk, sentence), entry["questions"][0]])
    fresh = build_index(settings_for(index_dir=tmp_path / "fresh", corpus_dir=corpus_copy), embedder)
    np.testing.assert_allclose(second.sentence_vectors, fresh.sentence_vectors, atol=1e-5)
    row = second.sentence_rows[(chunk.source, sentence.start, sentence.end)]
    assert not np.allclose(second.sentence_vectors[row], first.sentence_vectors[row], atol=1e-3)


def test_a_reindex_reuses_the_encoder_threads_of_the_pipeline_it_replaces(  # type: ignore[no-untyped-def]
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:
    import threading

    from api.reindex import rebuild_pipeline

    settings = settings_for(index_dir=tmp_path / "index", corpus_dir=corpus_copy)
    current = Pipeline.from_settings(settings, embedder=embedder)
    current.answer("should I tell the partner the customer wants to leave CSP?")
    encoders = sum(t.name.startswith("rag-embed-") for t in threading.enumerate())
    for _ in range(3):  # forced rebuilds, as POST /v1/admin/reindex {"force": true} makes them
        new = rebuild_pipeline(settings, current, True)
        assert new.index.manifest.index_version == current.index.manifest.index_version
        assert new.batcher is current.batcher and not new.answer("can I offer discounts to win?").abstained
        current = new
    assert sum(t.name.startswith("rag-embed-") for t in threading.enumerate()) == encoders
