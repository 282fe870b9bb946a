"""The maintainers' questions per guidance sentence (corpus/questions.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import CorpusError
from rag.sentence_questions import QUESTIONS_FILE, SentenceQuestions, blend, load_questions, parse

ROOT = Path(__file__).resolve().parents[2]


def test_the_corpus_list_parses_and_names_each_sentence_once() -> None:
    questions = load_questions(ROOT / "corpus")
    assert len(questions) >= 100
    assert all(1 <= len(qs) <= 4 for qs in questions.by_sentence.values())


def test_a_missing_file_is_an_empty_list(tmp_path: Path) -> None:
    assert len(load_questions(tmp_path)) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected"),
        ({"sentences": ["x"]}, "entry 1 is not an object"),
        ({"sentences": [{"source": "a.md", "questions": []}]}, 'needs a "source" and a "sentence"'),
        ({"sentences": [{"source": "a.md", "sentence": "S.", "questions": "why?"}]}, "must be a list of texts"),
        ({"sentences": [{"source": "a.md", "sentence": "S.", "questions": [" "]}]}, "must be a list of texts"),
        (
            {"sentences": [{"source": "a.md", "sentence": "S.", "questions": ["a?"]}] * 2},
            "repeats an earlier sentence",
        ),
    ],
)
def test_a_bad_entry_is_named(data: object, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        parse(data, "questions.json")


def test_invalid_json_is_a_corpus_error(tmp_path: Path) -> None:
    (tmp_path / QUESTIONS_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusError, match="not valid JSON"):
        load_questions(tmp_path)


def test_an_entry_without_questions_is_left_out_and_the_rest_round_trips() -> None:
    data = {
        "sentences": [
            {"source": "a.md", "sentence": "Keep it.", "questions": ["what do I keep?"]},
            {"source": "a.md", "sentence": "Microsoft Confidential.", "questions": []},
        ]
    }
    questions = parse(data, "q.json")
    assert questions.of(("a.md", None, None), "Keep it.") == ("what do I keep?",)
    assert questions.of(("a.md", None, None), "Microsoft Confidential.") == ()
    assert parse(json.loads(json.dumps(questions.to_json())), "again") == questions


def test_unmatched_names_entries_whose_sentence_is_gone() -> None:
    slide2, slide3 = ("a.md", 2, None), ("a.md", 3, None)
    questions = SentenceQuestions({(slide2, "Old wording."): ("q?",), (slide2, "Kept."): ("k?",)})
    present = [(slide2, "Kept."), (slide2, "New wording."), (slide3, "Old wording.")]
    assert questions.unmatched(present) == [(slide2, "Old wording.")]


def test_the_same_sentence_on_two_slides_has_its_own_questions_on_each() -> None:
    data = {
        "sentences": [
            {"source": "a.md", "slide": 4, "sentence": "Grow.", "questions": ["grow an EA deal?"]},
            {"source": "a.md", "slide": 5, "sentence": "Grow.", "questions": ["grow a CSP account?"]},
        ]
    }
    questions = parse(data, "q.json")
    assert questions.of(("a.md", 5, None), "Grow.") == ("grow a CSP account?",)


def test_a_slide_must_be_a_number() -> None:
    with pytest.raises(CorpusError, match="whole numbers"):
        parse({"sentences": [{"source": "a.md", "slide": "4", "sentence": "S.", "questions": []}]}, "q")


def test_blend_is_the_unit_direction_between_a_sentence_and_its_questions() -> None:
    s = np.asarray([1.0, 0.0, 0.0], np.float32)
    qs = np.asarray([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
    v = blend(s, qs)
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert np.allclose(v, np.asarray([1.0, 0.5, 0.5]) / np.linalg.norm([1.0, 0.5, 0.5]))
    assert blend(s, np.zeros((0, 3), np.float32)) is s
