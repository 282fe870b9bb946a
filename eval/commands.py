"""``rag eval``: the subcommand this package adds to the ``rag`` command line.

Registered in ``pyproject.toml`` under the ``rag.commands`` entry-point group, where
:mod:`rag.cli` finds it: the core never imports ``eval/``. What the command does is in
:mod:`eval.cli`, imported only when it runs.
"""

from __future__ import annotations

import argparse

from rag.cli import Command
from rag.config import Settings


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=("run", "calibrate", "threads"), default="run",
                   help="run (default), calibrate the abstention threshold on the dev set, or threads: "
                        "the follow-up question threads (default eval/gold/threads-test.jsonl)")
    p.add_argument("--gold", default=None, help="gold JSONL (default eval/gold/test.jsonl; dev for calibrate)")
    p.add_argument("--api", default=None, help="evaluate a running service at this URL instead")
    p.add_argument("--api-key", default=None, help="key for --api when the service requires one")
    p.add_argument("--gate", action="store_true", help="exit 1 on a missed threshold or a regression")
    p.add_argument("--out", default="eval/runs", help="folder for the run reports")
    p.add_argument("--save-baseline", action="store_true",
                   help="also copy this run's results.json and summary.md to eval/baseline/")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from eval.cli import run_eval_command

    return run_eval_command(args, settings)


EVAL = Command("eval", "evaluate answers against the gold questions", _arguments, _run, position=70)
"""The ``eval`` entry point of the ``rag.commands`` group."""
