"""``rag eval``: run the gold set, write reports, apply the gate; ``rag eval calibrate``;
``rag eval threads``: the gold threads of follow-up questions, turn by turn.

Exit codes: 0 done (and the gate passed, with --gate); 1 the gate failed; 2 the
harness could not run (bad gold file, unreachable service, broken configuration).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval import gate
from eval.calibrate import MAX_FALSE_ABSTENTION, fit_threshold, write_calibration
from eval.gold import gold_sha256, load_gold
from eval.metrics import aggregate
from eval.report import write_reports
from eval.runner import http_answerer, pipeline_answerer, run
from eval.stats import percentile
from eval.text_report import format_terminal_table
from eval.thread_metrics import summarise
from eval.thread_report import format_threads_table, write_thread_reports
from eval.thread_runner import pipeline_thread_answerer, run_threads
from eval.threads import load_threads
from rag.config import Settings
from rag.datatypes import to_dict
from rag.errors import ConfigError, RagError

EXIT_GATE = 1
EXIT_HARNESS = 2
THRESHOLDS = Path("eval/thresholds.json")
BASELINE = Path("eval/baseline/results.json")


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.action == "calibrate":
            return _calibrate(args, settings)
        if args.action == "threads":
            return _threads(args, settings)
        return _evaluate(args, settings)
    except RagError as exc:
        print(f"rag eval: harness error: {exc}", file=sys.stderr)
        return EXIT_HARNESS


def _progress(items, desc: str, unit: str = "q"):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    gold_path = Path(args.gold or "eval/gold/test.jsonl")
    items = load_gold(gold_path)
    if args.api:
        answerer = http_answerer(args.api, args.api_key)
        manifest: dict[str, Any] = {"service": args.api}
    else:
        pipeline = _pipeline(settings)
        answerer = pipeline_answerer(pipeline)
        manifest = to_dict(pipeline.manifest)
    results = run(items, answerer, lambda it: _progress(it, gold_path.name))
    summary = aggregate(results)
    provenance = {
        "git_commit": _git_commit(),
        "index_manifest": manifest,
        "gold_file": gold_path.as_posix(),
        "gold_sha256": gold_sha256(gold_path),
        "settings": _redacted(settings),
        "mode": "http" if args.api else "in-process",
    }
    run_dir = Path(args.out) / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    paths = write_reports(run_dir, results=results, summary=summary, provenance=provenance)
    print(format_terminal_table(summary))
    print(f"reports: {', '.join(str(p) for p in paths.values())}")
    if args.save_baseline:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        for name in ("results.json", "summary.md"):
            shutil.copyfile(paths[name], BASELINE.parent / name)
        print(f"baseline saved to {BASELINE.parent}")
    if not args.gate:
        return 0
    verdict = gate.check(summary, results, gate.load_thresholds(THRESHOLDS), gate.baseline_passes(BASELINE))
    if verdict.passed:
        print("gate: passed")
        return 0
    print("gate: FAILED", *[f"  - {f}" for f in verdict.failures], sep="\n")
    return EXIT_GATE


def _calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answering import evidence

    gold_path = Path(args.gold or "eval/gold/dev.jsonl")
    items = load_gold(gold_path)
    # Calibrate what retrieval finds, whatever threshold is configured now.
    pipeline = _pipeline(replace(settings, answer=replace(settings.answer, min_evidence=0.0)))
    inside: list[float] = []
    outside: list[float] = []
    for item in _progress(items, f"calibrating on {gold_path.name}"):
        score = evidence(pipeline.answer(item.question).passages, settings.answer.evidence_lexical_weight)
        (inside if item.answerable else outside).append(score)
    cal = fit_threshold(inside, outside, MAX_FALSE_ABSTENTION)
    provenance = {
        "gold_file": gold_path.as_posix(),
        "gold_sha256": gold_sha256(gold_path),
        "model": pipeline.manifest.model_name,
        "model_sha256": pipeline.manifest.model_sha256,
        "index_version": pipeline.manifest.index_version,
        "git_commit": _git_commit(),
    }
    write_calibration(settings.calibration_file, cal, provenance)
    print(f"min_evidence = {cal.threshold} (balanced accuracy {cal.balanced_accuracy} on {len(items)} dev questions)")
    print(f"in-scope evidence:     min {min(inside):.3f}  median {percentile(inside, 50):.3f}")
    print(f"out-of-scope evidence: max {max(outside):.3f}  median {percentile(outside, 50):.3f}")
    print(f"written to {settings.calibration_file}")
    return 0


def _threads(args: argparse.Namespace, settings: Settings) -> int:
    # Refused rather than ignored: a flag that silently does nothing reads as a passed gate.
    for flag, given in (("--api", args.api), ("--gate", args.gate), ("--save-baseline", args.save_baseline)):
        if given:
            raise ConfigError(f"rag eval threads runs in process and has no gate or baseline yet: drop {flag}")
    gold_path = Path(args.gold or "eval/gold/threads-test.jsonl")
    threads = load_threads(gold_path)
    pipeline = _pipeline(settings)
    answerer = pipeline_thread_answerer(pipeline)
    results = run_threads(threads, answerer, lambda it: _progress(it, gold_path.name, "thread"))
    summary = summarise(results)
    provenance = {
        "git_commit": _git_commit(),
        "index_manifest": to_dict(pipeline.manifest),
        "gold_file": gold_path.as_posix(),
        "gold_sha256": gold_sha256(gold_path),
        "settings": _redacted(settings),
        "mode": "in-process",
    }
    run_dir = Path(args.out) / datetime.now(UTC).strftime("threads-%Y%m%dT%H%M%S%fZ")
    paths = write_thread_reports(run_dir, results=results, summary=summary, provenance=provenance)
    print(format_threads_table(summary))
    print(f"reports: {', '.join(str(p) for p in paths.values())}")
    return 0


def _pipeline(settings: Settings):  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(settings)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _redacted(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(settings)
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}
    data["server"] = dict(data["server"]) | {"api_keys": f"<{len(settings.server.api_keys)} key(s)>"}
    data["store"] = dict(data["store"]) | {"url": settings.store.shown_url}
    return data
