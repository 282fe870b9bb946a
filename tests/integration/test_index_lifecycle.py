"""Real model, real FAISS, real files: build, persist, detect staleness, survive a crash."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.builder import build_index, build_spec, token_counter
from rag.datatypes import to_dict
from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index import DenseIndex, current_build, load_index, read_manifest, stale_reasons
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
    assert set(m.files) == {"csp-for-sellers.md"}
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
    # refused with a message when auto-rebuild is off ...
    strict = replace(settings, index=replace(settings.index, auto_rebuild=False))
    with pytest.raises(IndexMismatchError, match=r"changed\. Run `rag index`"):
        Pipeline.from_settings(strict, embedder=embedder)
    # ... rebuilt by default
    rebuilt = Pipeline.from_settings(settings, embedder=embedder)
    assert rebuilt.manifest.index_version != index.manifest.index_version


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
