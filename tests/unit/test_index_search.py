"""FAISS search checked against brute-force NumPy; answer assembly on plain data."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering import NOT_COVERED, compose_answer, confidence, validate_question
from rag.config import AnswerConfig
from rag.datatypes import Chunk, Passage, chunk_from_dict, to_dict
from rag.errors import InvalidQuestionError
from rag.index import DenseIndex
from tests.chunks import make_chunk


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _clustered(rows: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around 50 topics: embeddings of real text cluster like this."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    v = (centres[rng.integers(0, 50, rows)] + 0.35 * rng.normal(size=(rows, dim))).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("exact_max", [10_000, 100])
def test_faiss_matches_brute_force(exact_max: int) -> None:
    vectors = _clustered(2000, 32, seed=1)
    index = DenseIndex.build(vectors, exact_max_vectors=exact_max)
    assert index.kind == ("flat-ip" if exact_max > 2000 else "ivf-flat-ip")
    np.testing.assert_allclose(index.vectors(), vectors, atol=1e-6)
    recall = []
    for q in _clustered(50, 32, seed=2):
        expected = np.argsort(-(vectors @ q))[:10]
        got = [row for row, _ in index.search(q, 10)]
        scores = [s for _, s in index.search(q, 10)]
        np.testing.assert_allclose(scores, np.sort(vectors[got] @ q)[::-1], atol=1e-5)
        recall.append(len(set(got) & set(expected.tolist())) / 10)
    if exact_max > 2000:
        assert min(recall) == 1.0
    else:
        assert float(np.mean(recall)) >= 0.95


def test_dense_index_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    vectors = _unit(50, 8, seed=3)
    DenseIndex.build(vectors, 1000).save(tmp_path / "d.faiss")
    again = DenseIndex.load(tmp_path / "d.faiss")
    q = vectors[7]
    assert again.search(q, 1)[0][0] == 7


def test_validate_question() -> None:
    assert validate_question("  hi there ", 100) == "hi there"
    for bad in ("", "   \n\t", "?!", None, 42):
        with pytest.raises(InvalidQuestionError):
            validate_question(bad, 100)
    with pytest.raises(InvalidQuestionError, match="limit is 5"):
        validate_question("too long question", 5)


def _doc_chunk(cid: str, slide: int, sentences: list[str]) -> Chunk:
    return make_chunk(cid, slide, sentences, section="Section", source="doc.md", doc_title="Doc")


def test_a_chunk_is_written_flat_and_read_back_whole() -> None:
    """chunks.jsonl predates Location: its fields stay the chunk's own on disk."""
    chunk = _doc_chunk("a", 9, ["Partners give billing support.", "Unrelated remark."])
    data = to_dict(chunk)
    assert "location" not in data
    assert (data["source"], data["slide"], data["page"], data["title"], data["section"]) == (
        "doc.md", 9, None, "Slide 9", "Section")
    assert chunk_from_dict(data) == chunk
    assert (chunk.source, chunk.slide, chunk.title) == ("doc.md", 9, "Slide 9")  # readable as before


def test_compose_answer_cites_verbatim_sentences_and_abstains() -> None:
    dim = 4
    q = np.array([1, 0, 0, 0], dtype=np.float32)
    vecs = {
        "Partners give billing support.": np.array([1, 0, 0, 0], np.float32),
        "Billing is also done by partners.": np.array([0.99, 0.14, 0, 0], np.float32),
        "Unrelated remark.": np.array([0, 0, 1, 0], np.float32),
        "Sellers support too.": np.array([0.9, 0.43, 0, 0], np.float32),
    }
    a = _doc_chunk("a", 9, ["Partners give billing support.", "Unrelated remark."])
    b = _doc_chunk("b", 4, ["Sellers support too.", "Billing is also done by partners."])
    passages = [Passage(a, 0.03, 1, 0.8, 2.0), Passage(b, 0.02, 2, 0.7, 1.0)]
    cfg = AnswerConfig(min_evidence=0.5, duplicate_threshold=0.95)
    answer = compose_answer(
        "who gives billing support?",
        passages,
        q,
        lambda _src, s: vecs[s.text] / np.linalg.norm(vecs[s.text]),
        cfg,
        "v1",
    )
    assert not answer.abstained and answer.citations[0].location.slide == 9
    assert answer.text.startswith("Partners give billing support. [1]")
    assert "Unrelated remark." not in answer.text
    assert "Billing is also done by partners." not in answer.text  # near-duplicate of [1]
    for c in answer.citations:
        chunk = a if c.chunk_id == "a" else b
        assert c.quote in chunk.text and f"[{c.n}]" in answer.text
    weak = [Passage(a, 0.03, 1, 0.2, 0.0)]
    out = compose_answer("weather?", weak, q, lambda _s, s: vecs[s.text], cfg, "v1")
    assert out.abstained and out.text == NOT_COVERED and out.citations == ()
    assert out.suggestions == ("Slide 9",) and out.confidence < 0.5 < confidence(0.9, 0.5)
    assert dim == 4


def test_a_continuation_chosen_first_follows_the_sentence_it_carries_on_from() -> None:
    q = np.array([1, 0, 0], dtype=np.float32)
    vecs = {
        "The customer may buy under the MCA.": np.array([0.6, 0.8, 0], np.float32),
        "In that case, develop the deal and proposal.": np.array([1, 0, 0], np.float32),
        "Unrelated remark.": np.array([0, 0, 1], np.float32),
    }
    a = _doc_chunk("a", 8, list(vecs))
    cfg = AnswerConfig(min_evidence=0.5)
    answer = compose_answer(
        "what do I do when they buy direct?", [Passage(a, 0.9, 1, 0.9, 1.0)], q, lambda _s, s: vecs[s.text], cfg, "v1"
    )
    # the best sentence carries on from the one before it: both are quoted, in the deck's order
    assert answer.text == (
        "The customer may buy under the MCA. [1] In that case, develop the deal and proposal. [1]"
    )
