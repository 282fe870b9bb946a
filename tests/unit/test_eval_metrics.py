"""Gold loading and the pure evaluation metrics, against hand-computed figures."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import pytest

from eval.answer_metrics import (
    abstention_metrics,
    answer_words,
    citation_precision,
    citation_recall,
    contains_phrase,
    fact_coverage,
    missing_facts,
    must_not_violations,
)
from eval.gold import GoldError, GoldItem, gold_sha256, load_gold, normalise
from eval.metrics import (
    Observation,
    PassRule,
    aggregate,
    default_slide_key,
    quality_json,
    scenario_order,
    score_question,
)
from eval.retrieval_metrics import dedupe, hit_at_k, mrr_at_k, ndcg_at_k, rank_of, recall_at_k
from eval.stats import mean, percentile

DOC = "csp-for-sellers.md"


def key(slide: int) -> str:
    return default_slide_key(DOC, slide)


def item(**overrides: object) -> GoldItem:
    fields: dict[str, object] = {
        "id": "q1",
        "question": "What should the seller do when the partner cannot support the workload?",
        "scenario": "s3",
        "slides": (6, 3),
        "facts": (("net new opportunity",), ("confirm with the partner", "check with the partner")),
        "must_not": ("offer concessions",),
        "abstain": False,
        "tags": (),
    }
    fields.update(overrides)
    return GoldItem(**fields)  # type: ignore[arg-type]


def out_of_scope(**overrides: object) -> GoldItem:
    base: dict[str, object] = {
        "id": "oos1",
        "question": "What is the capital of France?",
        "scenario": "out-of-scope",
        "slides": (),
        "facts": (),
        "must_not": ("paris",),
        "abstain": True,
    }
    base.update(overrides)
    return item(**base)


def obs(**overrides: object) -> Observation:
    fields: dict[str, object] = {
        "retrieved": (key(6), key(3), key(9)),
        "answer": "Confirm with the partner, then treat it as a net new opportunity [1].",
        "abstained": False,
        "cited": (key(6),),
        "quotes": ("treat it as a net new opportunity",),
        "confidence": 0.8,
        "latency_ms": 100.0,
    }
    fields.update(overrides)
    return Observation(**fields)  # type: ignore[arg-type]


# --- gold -------------------------------------------------------------------------------------

GOOD = {
    "id": "s3-01",
    "question": "Partner cannot support the workload: what now?",
    "scenario": "s3",
    "slides": [6, 3],
    "facts": [["net new opportunity"], ["confirm with the partner"]],
    "must_not": [],
    "abstain": False,
    "tags": ["paraphrase"],
}
OOS = {
    "id": "oos-01",
    "question": "What is the capital of France?",
    "scenario": "out-of-scope",
    "slides": [],
    "facts": [],
    "must_not": ["paris"],
    "abstain": True,
    "tags": [],
}


def write_jsonl(path: Path, *records: object) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_gold_reads_records_into_tuples(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", GOOD, "", {**OOS, "source": "other.md"})
    first, second = load_gold(path)
    assert first == GoldItem(
        id="s3-01",
        question="Partner cannot support the workload: what now?",
        scenario="s3",
        slides=(6, 3),
        facts=(("net new opportunity",), ("confirm with the partner",)),
        must_not=(),
        abstain=False,
        tags=("paraphrase",),
        source=DOC,
    )
    assert first.primary_slide == 6 and first.answerable
    assert second.source == "other.md" and second.abstain and second.primary_slide is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**GOOD, "extra": 1}, "unknown key(s) extra"),
        ({k: v for k, v in GOOD.items() if k != "tags"}, "missing key(s) tags"),
        ({**GOOD, "id": ""}, "id must be a non-empty string"),
        ({**GOOD, "question": 3}, "question must be a non-empty string"),
        ({**GOOD, "scenario": "s9"}, "scenario 's9' is not one of"),
        ({**GOOD, "slides": "6"}, "slides must be a list"),
        ({**GOOD, "slides": [6, True]}, "positive whole numbers, got True"),
        ({**GOOD, "slides": [0]}, "positive whole numbers, got 0"),
        ({**GOOD, "slides": [6, 6]}, "lists a slide twice"),
        ({**GOOD, "facts": ["net new"]}, "fact 1 must be a non-empty list"),
        ({**GOOD, "facts": [[]]}, "fact 1 must be a non-empty list"),
        ({**GOOD, "facts": [["ok"], ["  "]]}, "fact 2 must hold non-empty strings"),
        ({**GOOD, "must_not": "x"}, "must_not must be a list of strings"),
        ({**GOOD, "abstain": "false"}, "abstain must be true or false"),
        ({**GOOD, "tags": [1]}, "tags must hold non-empty strings"),
        ({**GOOD, "source": ""}, "source must be a non-empty string"),
        ({**GOOD, "abstain": True}, "abstain is true, so slides and facts must both be []"),
        ({**OOS, "facts": [["x"]]}, "abstain is true, so slides and facts must both be []"),
        ({**GOOD, "slides": []}, "abstain is false, so slides must name at least one slide"),
        ({**OOS, "scenario": "general", "abstain": False}, "slides must name at least one"),
        ({**GOOD, "scenario": "out-of-scope"}, "so abstain must be true"),
        ([GOOD], "a record must be a JSON object, got list"),
        ("{not json", "not valid JSON"),
    ],
)
def test_load_gold_rejects_bad_records_with_file_and_line(
    tmp_path: Path, record: object, message: str
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", OOS, record)
    with pytest.raises(GoldError) as caught:
        load_gold(path)
    assert f"{path}:2: " in str(caught.value)
    assert message in str(caught.value)


def test_load_gold_rejects_duplicate_ids_and_empty_files(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "dup.jsonl", GOOD, OOS, {**OOS, "id": "s3-01"})
    with pytest.raises(
        GoldError, match=r"dup\.jsonl:3: duplicate id 's3-01' \(first used on line 1\)"
    ):
        load_gold(path)
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(GoldError, match="no gold records"):
        load_gold(tmp_path / "empty.jsonl")
    with pytest.raises(GoldError, match="cannot read"):
        load_gold(tmp_path / "missing.jsonl")
    assert issubclass(GoldError, ValueError)


def test_gold_sha256_hashes_the_bytes(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", GOOD)
    assert gold_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_normalise() -> None:
    text = "  We\u2019re  \u201cCSP\u201d\tpartners \u2013 the\u00a0EA\u2014or\nMCA  "
    assert normalise(text) == 'we\'re "csp" partners - the ea-or mca'
    assert normalise("") == ""


# --- phrases and words ------------------------------------------------------------------------


def test_contains_phrase_matches_normalised_text_at_word_boundaries() -> None:
    answer = "We\u2019re treating it as a Net  New opportunity \u2013 co-sell (CSP)."
    assert contains_phrase(answer, "we're treating")
    assert contains_phrase(answer, "net new opportunity")
    assert contains_phrase(answer, "opportunity - co-sell")
    assert contains_phrase(answer, "(csp)")
    assert not contains_phrase("Reach each customer", "ea")
    assert not contains_phrase("co-selling", "co-sell")
    assert not contains_phrase("anything", "   ")


def test_answer_words_ignores_citation_markers() -> None:
    assert answer_words("Share the lead [1] with the co-sell partner [2, 3].") == 7
    assert answer_words("  ") == 0
    assert answer_words("- bullet \u2013 text") == 2


# --- retrieval --------------------------------------------------------------------------------


def test_hit_at_k() -> None:
    ranked = ["a", "b", "c"]
    assert hit_at_k(ranked, {"b"}, 1) == 0.0
    assert hit_at_k(ranked, {"b"}, 2) == 1.0
    assert hit_at_k(ranked, {"z"}, 10) == 0.0  # k larger than the list
    assert hit_at_k([], {"a"}, 3) == 0.0  # nothing retrieved
    assert hit_at_k(ranked, set(), 3) == 0.0  # nothing relevant
    assert hit_at_k(["a", "a", "b"], ["b"], 2) == 1.0  # duplicates do not take a slot
    assert hit_at_k([9, 3], [3], 2) == 1.0  # any hashable id
    with pytest.raises(ValueError, match="k must be at least 1"):
        hit_at_k(ranked, {"a"}, 0)


def test_recall_at_k() -> None:
    ranked = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, ["b", "d", "x"], 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, ["b", "d", "x"], 10) == pytest.approx(2 / 3)
    assert recall_at_k(["b", "b", "b"], ["b", "d"], 3) == 0.5  # a duplicate counts once
    assert recall_at_k(ranked, ["b", "b"], 2) == 1.0  # duplicate relevant ids count once
    assert recall_at_k([], ["a"], 5) == 0.0
    assert recall_at_k(ranked, [], 5) == 0.0


def test_mrr_at_k() -> None:
    assert mrr_at_k(["a", "b", "c"], {"c"}) == pytest.approx(1 / 3)
    assert mrr_at_k(["a", "b", "c"], {"c", "b"}) == 0.5  # the first relevant one counts
    assert mrr_at_k(["a", "a", "c"], {"c"}) == 0.5  # deduplicated: c is second
    assert mrr_at_k(["a", "b", "c"], {"c"}, k=2) == 0.0
    assert mrr_at_k([], {"c"}) == 0.0
    assert mrr_at_k(["a"], set()) == 0.0
    assert mrr_at_k([str(i) for i in range(20)], {"9"}) == pytest.approx(0.1)
    assert mrr_at_k([str(i) for i in range(20)], {"10"}) == 0.0  # rank 11 > default k=10


def test_ndcg_at_k_gives_the_primary_slide_gain_2() -> None:
    # primary A (gain 2), B (gain 1); ideal DCG = 2/log2(2) + 1/log2(3) = 2.63093
    ideal = 2 + 1 / math.log2(3)
    assert ndcg_at_k(["A", "B", "x"], ["A", "B"]) == pytest.approx(1.0)
    assert ndcg_at_k(["B", "A"], ["A", "B"]) == pytest.approx((1 + 2 / math.log2(3)) / ideal)
    assert ndcg_at_k(["B", "A"], ["A", "B"]) == pytest.approx(
        0.859719, abs=1e-6
    )  # 2.26186 / 2.63093
    assert ndcg_at_k(["x", "B"], ["A", "B"]) == pytest.approx((1 / math.log2(3)) / ideal)
    assert ndcg_at_k(["x", "y", "A"], ["A"], k=5) == pytest.approx(0.5)  # 2/log2(4) / 2
    assert ndcg_at_k(["x", "y", "A"], ["A"], k=2) == 0.0
    # binary variant: both orders of two relevant slides score 1
    assert ndcg_at_k(["B", "A"], ["A", "B"], primary_gain=1.0) == pytest.approx(1.0)
    # only one relevant slide fits in k=1: the ideal is the primary alone
    assert ndcg_at_k(["B"], ["A", "B"], k=1) == pytest.approx(0.5)
    assert ndcg_at_k(["A", "A", "B"], ["A", "B"]) == pytest.approx(1.0)  # duplicates
    assert ndcg_at_k([], ["A"]) == 0.0
    assert ndcg_at_k(["A"], []) == 0.0
    with pytest.raises(ValueError, match="primary_gain"):
        ndcg_at_k(["A"], ["A"], primary_gain=0)


def test_dedupe_and_rank_of() -> None:
    assert dedupe(["b", "a", "b", "c", "a"]) == ("b", "a", "c")
    assert rank_of(["b", "b", "a"], "a") == 2
    assert rank_of(["b"], "a") is None


# --- answer content ---------------------------------------------------------------------------

FACTS = (("net new opportunity",), ("confirm with the partner", "check with the partner"), ("MCA",))


def test_fact_coverage() -> None:
    answer = "Check with the partner; it is a net-new opportunity."
    assert missing_facts(answer, FACTS) == (0, 2)  # "net-new" is not "net new"
    assert fact_coverage(answer, FACTS) == pytest.approx(1 / 3)
    assert fact_coverage("Net new opportunity, check with the partner, MCA.", FACTS) == 1.0
    assert fact_coverage("Net new opportunity. MCA.", FACTS, abstained=True) == 0.0
    assert fact_coverage("", FACTS) == 0.0
    assert fact_coverage("anything", ()) == 1.0


def test_must_not_violations() -> None:
    answer = "Offer  concessions to win; the EA is best."
    assert must_not_violations(answer, ("offer concessions", "MCA", "ea")) == (
        "offer concessions",
        "ea",
    )
    assert must_not_violations(answer, ()) == ()


def test_citation_precision_and_recall() -> None:
    assert citation_precision(["a", "x", "a"], ["a", "b"]) == 0.5  # distinct cited: a, x
    assert citation_recall(["a", "x", "a"], ["a", "b"]) == 0.5
    assert citation_precision([], ["a"]) == 0.0
    assert citation_recall([], ["a"]) == 0.0
    assert citation_precision(["a"], []) == 0.0
    assert citation_recall(["a"], []) == 0.0
    assert citation_recall(["b", "a"], ["a", "b", "a"]) == 1.0


def test_abstention_metrics_over_the_whole_set() -> None:
    expected = [True, True, False, False, False]
    abstained = [True, False, True, False, False]
    assert abstention_metrics(expected, abstained) == {
        "abstention_precision": 0.5,
        "abstention_recall": 0.5,
        "false_abstention_rate": pytest.approx(1 / 3),
    }
    assert abstention_metrics([False], [False]) == {
        "abstention_precision": None,
        "abstention_recall": None,
        "false_abstention_rate": 0.0,
    }
    with pytest.raises(ValueError):
        abstention_metrics([True], [])


def test_percentile_is_nearest_rank() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2
    assert percentile(range(1, 21), 95) == 19
    assert percentile(range(1, 21), 100) == 20
    assert percentile([7.5], 95) == 7.5
    assert percentile([], 50) is None
    assert percentile([4, 1, 3, 2], 0) == 1  # nothing is below p0: the smallest value
    for outside in (-1, 101):
        with pytest.raises(ValueError):
            percentile([1], outside)
    assert mean([]) is None
    assert mean([0.1] * 10) == 0.1


# --- pass rule --------------------------------------------------------------------------------


def test_in_scope_question_passes() -> None:
    result = score_question(item(), obs())
    assert result.passed and result.reasons == ()
    assert result.relevant == (key(6), key(3))
    assert dict(result.metrics) == {
        "abstained": 0.0,
        "answer_words": 12.0,
        "must_not_violations": 0.0,
        "hit@1": 1.0,
        "hit@3": 1.0,
        "hit@5": 1.0,
        "recall@5": 1.0,
        "rr@10": 1.0,
        "ndcg@5": 1.0,
        "primary@3": 1.0,
        "fact_coverage": 1.0,
        "citation_precision": 1.0,
        "citation_recall": 0.5,
    }


def test_in_scope_question_fails_for_every_broken_condition() -> None:
    observation = obs(
        retrieved=tuple(key(s) for s in (1, 2, 3, 4, 6)),
        answer="Offer concessions and check with the partner.",
    )
    result = score_question(item(facts=FACTS), observation)
    assert not result.passed
    assert result.reasons == (
        "primary slide 6 not in top 3 (rank 5)",
        "fact coverage 0.33 below 0.50",
        "fact 1 missing: ['net new opportunity']",
        "fact 3 missing: ['MCA']",
        "must-not phrase present: 'offer concessions'",
    )
    assert result.metrics["hit@1"] == 0.0
    assert result.metrics["hit@3"] == 1.0  # slide 3 is relevant, not primary
    assert result.metrics["primary@3"] == 0.0
    assert result.metrics["rr@10"] == pytest.approx(1 / 3, abs=1e-4)
    assert result.metrics["fact_coverage"] == 0.3333


def test_fact_coverage_of_exactly_half_passes_and_rule_is_configurable() -> None:
    observation = obs(answer="Treat it as a net new opportunity.")
    assert score_question(item(), observation).passed
    strict = score_question(item(), observation, rule=PassRule(min_fact_coverage=0.75))
    assert strict.reasons[0] == "fact coverage 0.50 below 0.75"
    wide = score_question(
        item(), obs(retrieved=(key(1), key(2), key(3), key(6))), rule=PassRule(primary_k=5)
    )
    assert wide.passed and wide.metrics["primary@5"] == 1.0


def test_abstaining_on_an_in_scope_question_fails_with_zero_coverage() -> None:
    observation = obs(answer="I can't find that in the deck.", abstained=True, cited=(), quotes=())
    result = score_question(item(), observation)
    assert result.reasons == ("abstained on an in-scope question",)
    assert result.metrics["fact_coverage"] == 0.0
    assert result.metrics["citation_precision"] == 0.0
    assert result.metrics["abstained"] == 1.0
    none_found = score_question(item(), dataclasses.replace(observation, retrieved=()))
    assert none_found.reasons == (
        "abstained on an in-scope question",
        "primary slide 6 not in top 3 (not retrieved)",
    )


def test_out_of_scope_question_passes_only_when_abstaining() -> None:
    abstain = obs(answer="Not covered by the deck.", abstained=True, cited=(), quotes=())
    result = score_question(out_of_scope(), abstain)
    assert result.passed and result.relevant == ()
    assert set(result.metrics) == {"abstained", "answer_words", "must_not_violations"}
    answered = score_question(out_of_scope(), obs(answer="Paris."))
    assert answered.reasons == (
        "answered an out-of-scope question",
        "must-not phrase present: 'paris'",
    )


def test_slide_key_is_applied_to_the_gold_slides() -> None:
    result = score_question(
        item(source="deck.md"),
        obs(retrieved=("deck.md/6",), cited=("deck.md/6",)),
        slide_key=lambda source, slide: f"{source}/{slide}",
    )
    assert result.relevant == ("deck.md/6", "deck.md/3")
    assert result.metrics["hit@1"] == 1.0 and result.metrics["citation_precision"] == 1.0


# --- aggregation ------------------------------------------------------------------------------


def run() -> list:
    return [
        score_question(item(id="a"), obs(latency_ms=10.0)),  # pass
        score_question(item(id="b"), obs(retrieved=(key(9), key(6)), latency_ms=30.0)),  # pass
        score_question(
            item(id="c", scenario="s1", slides=(4,)),
            obs(answer="No idea.", abstained=True, cited=(), quotes=(), latency_ms=20.0),
        ),  # fail: false abstention, primary slide 4 not retrieved
        score_question(
            out_of_scope(id="d"), obs(answer="Out of scope.", abstained=True, latency_ms=40.0)
        ),  # pass
        score_question(out_of_scope(id="e"), obs(latency_ms=50.0)),  # fail: answered
    ]


def test_aggregate_overall_and_per_scenario() -> None:
    summary = aggregate(run())
    assert dict(summary.overall.counts) == {
        "questions": 5,
        "in_scope": 3,
        "out_of_scope": 2,
        "passed": 3,
        "failed": 2,
        "abstained": 2,
    }
    figures = summary.overall.figures
    assert figures["pass_rate"] == 0.6
    assert figures["hit@1"] == pytest.approx(0.3333)  # a only; b has 9 first, c nothing
    assert figures["hit@3"] == pytest.approx(0.6667)
    assert figures["mrr@10"] == 0.5  # (1 + 1/2 + 0) / 3
    assert figures["primary@3"] == pytest.approx(0.6667)
    assert figures["fact_coverage"] == pytest.approx(0.6667)  # c abstained -> 0
    assert figures["abstention_precision"] == 0.5  # d right, c wrong
    assert figures["abstention_recall"] == 0.5  # d yes, e no
    assert figures["false_abstention_rate"] == pytest.approx(0.3333)
    assert figures["must_not_rate"] == 0.0
    assert figures["answer_words_mean"] == 12.0  # answered: a, b, e
    answered = sorted(r.metrics["answer_words"] for r in run() if not r.observation.abstained)
    assert len(answered) == 3 and figures["answer_words_median"] == answered[1]  # nearest rank
    assert list(summary.by_scenario) == ["s1", "s3", "out-of-scope"]
    s3 = summary.by_scenario["s3"]
    assert s3.counts["passed"] == 2 and s3.figures["hit@1"] == 0.5
    assert s3.figures["abstention_precision"] is None  # no abstentions in s3
    oos = summary.by_scenario["out-of-scope"]
    assert oos.figures["hit@1"] is None and oos.figures["abstention_recall"] == 0.5
    assert summary.latency.p50_ms == 30.0 and summary.latency.p95_ms == 50.0
    assert summary.latency.mean_ms == 30.0 and summary.latency.max_ms == 50.0
    assert summary.latency_by_scenario["s3"].p95_ms == 30.0


def test_aggregate_is_deterministic_and_order_free() -> None:
    results = run()
    first = json.dumps(aggregate(results).to_dict(), sort_keys=True)
    assert json.dumps(aggregate(results).to_dict(), sort_keys=True) == first
    assert quality_json(aggregate(list(reversed(results)))) == quality_json(aggregate(results))


def test_quality_is_independent_of_latency() -> None:
    results = run()
    slower = [
        dataclasses.replace(
            r,
            observation=dataclasses.replace(r.observation, latency_ms=r.observation.latency_ms * 7),
        )
        for r in results
    ]
    assert quality_json(aggregate(slower)) == quality_json(aggregate(results))
    assert aggregate(slower).to_dict() != aggregate(results).to_dict()
    assert "latency" not in quality_json(aggregate(results))
    assert set(aggregate(results).to_dict()) == {"quality", "latency"}


def test_aggregate_of_nothing() -> None:
    summary = aggregate([])
    assert summary.overall.counts["questions"] == 0
    assert summary.overall.figures["pass_rate"] is None
    assert summary.latency.p50_ms is None
    json.dumps(summary.to_dict())


def test_scenario_order() -> None:
    names = ["out-of-scope", "general", "s8", "s1", "zzz"]
    assert sorted(names, key=scenario_order) == ["s1", "s8", "general", "out-of-scope", "zzz"]


def test_threshold_fit_separates_best_within_the_false_abstention_bound() -> None:
    from eval.calibrate import fit_threshold

    inside, outside = [0.5, 0.6, 0.7, 0.8], [0.1, 0.2, 0.55]
    free = fit_threshold(inside, outside)
    assert 0.55 < free.threshold < 0.6 and free.balanced_accuracy == 0.875  # refuses the 0.5 question
    bounded = fit_threshold(inside, outside, max_false_abstention=0.0)
    assert 0.2 < bounded.threshold < 0.5 and bounded.balanced_accuracy == round((1 + 2 / 3) / 2, 4)
    assert fit_threshold([0.1], [0.9], max_false_abstention=0.0).threshold <= 0.1  # refusing nothing is allowed
