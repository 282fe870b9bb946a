"""Fit the abstention threshold on the dev set; the service reads it from the calibration file.

The evidence of a question is :func:`rag.answering.evidence` of its retrieved passages. The
threshold is placed where it separates in-scope from out-of-scope questions best (balanced
accuracy) among the cut points that refuse at most ``max_false_abstention`` of the in-scope
questions: a seller whose question the guidance answers must get the answer, so a wrongly
refused question costs more than a near-miss question answered from the closest guidance
(still verbatim and cited). Among equally good cut points, the one farthest from any
observed score, so it is not pinned to one question's score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from eval.gold import GoldError


@dataclass(frozen=True)
class Calibration:
    threshold: float
    balanced_accuracy: float
    in_scope: tuple[float, ...]
    out_of_scope: tuple[float, ...]


MAX_FALSE_ABSTENTION = 0.02
"""Share of the dev set's in-scope questions the fitted threshold may refuse."""


def fit_threshold(
    in_scope: Sequence[float], out_of_scope: Sequence[float], max_false_abstention: float = 1.0
) -> Calibration:
    """The threshold for these evidence scores (see the module docstring).

    Raises:
        GoldError: the gold set gave no in-scope or no out-of-scope question (also a ``ValueError``).
    """
    if not in_scope or not out_of_scope:
        raise GoldError("calibration needs both in-scope and out-of-scope questions")
    points = sorted(set(in_scope) | set(out_of_scope))
    cuts = [points[0] - 1e-6] + [(a + b) / 2 for a, b in pairwise(points)] + [points[-1] + 1e-6]
    # the lowest cut always qualifies: it refuses nothing
    cuts = [t for t in cuts if sum(1 for v in in_scope if v < t) <= max_false_abstention * len(in_scope)]

    def score(t: float) -> float:
        kept = sum(1 for v in in_scope if v >= t) / len(in_scope)
        refused = sum(1 for v in out_of_scope if v < t) / len(out_of_scope)
        return (kept + refused) / 2

    best = max(score(t) for t in cuts)
    # among equally good cuts, the one farthest from any observed score
    threshold = max((t for t in cuts if score(t) == best), key=lambda t: min(abs(t - v) for v in points))
    return Calibration(round(threshold, 4), round(best, 4), tuple(sorted(in_scope)), tuple(sorted(out_of_scope)))


def write_calibration(path: Path, cal: Calibration, provenance: dict[str, Any]) -> None:
    data = {
        "_comment": "Written by `rag eval calibrate`; read by the service (RAG_CALIBRATION_FILE).",
        "thresholds": {"min_evidence": cal.threshold},
        "balanced_accuracy_on_dev": cal.balanced_accuracy,
        "evidence": {
            "in_scope": [round(v, 4) for v in cal.in_scope],
            "out_of_scope": [round(v, 4) for v in cal.out_of_scope],
        },
        "provenance": provenance,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
