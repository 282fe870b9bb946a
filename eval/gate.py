"""The CI gate: committed thresholds plus a committed baseline run.

``eval/thresholds.json``::

    {"min": {"hit@3": 0.6, ...}, "max": {"false_abstention_rate": 0.1, ...}}

A run fails the gate when an overall figure is below its ``min`` or above its ``max``,
or when a question that passed in the baseline (``eval/baseline/results.json``) fails now.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import QuestionResult, Summary
from rag.errors import ConfigError


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[str, ...]


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"thresholds file {path} is unreadable ({exc})") from exc
    if not isinstance(data, dict) or not set(data) <= {"min", "max", "_comment"}:
        raise ConfigError(f"thresholds file {path} must have 'min' and/or 'max' objects")
    return {k: {str(n): float(v) for n, v in data.get(k, {}).items()} for k in ("min", "max")}


def baseline_passes(path: Path) -> dict[str, bool]:
    """``{question id: passed}`` from a committed results.json (empty when absent)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {q["id"]: bool(q["passed"]) for q in data["questions"]}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"baseline {path} is unreadable ({exc})") from exc


def check(
    summary: Summary,
    results: Sequence[QuestionResult],
    thresholds: Mapping[str, Mapping[str, float]],
    baseline: Mapping[str, bool],
) -> GateResult:
    figures: Mapping[str, Any] = summary.overall.figures
    failures: list[str] = []
    for name, low in sorted(thresholds.get("min", {}).items()):
        value = figures.get(name)
        if value is None or value < low:
            failures.append(f"{name} = {value} is below the threshold {low}")
    for name, high in sorted(thresholds.get("max", {}).items()):
        value = figures.get(name)
        if value is None or value > high:
            failures.append(f"{name} = {value} is above the threshold {high}")
    for r in results:
        if baseline.get(r.item.id) and not r.passed:
            failures.append(f"regression: {r.item.id} passed in the baseline, fails now ({'; '.join(r.reasons)})")
    return GateResult(not failures, tuple(failures))
