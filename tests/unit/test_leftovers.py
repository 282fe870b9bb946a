"""Which temporary build folders a build may delete: only those no live build will finish."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rag.leftovers import STALE_TMP_SECONDS, TMP_PREFIX, is_abandoned, remove_abandoned


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make(builds: Path, name: str, age_seconds: float = 0) -> Path:
    folder = builds / name
    folder.mkdir(parents=True)
    (folder / "chunks.jsonl").write_text("{}\n")
    if age_seconds:
        then = time.time() - age_seconds
        os.utime(folder, (then, then))
    return folder


def test_only_folders_of_dead_or_long_gone_builds_are_removed(tmp_path: Path) -> None:
    dead = make(tmp_path, f"{TMP_PREFIX}{dead_pid()}-abc123")
    mine = make(tmp_path, f"{TMP_PREFIX}{os.getpid()}-def456")  # a build in this process
    parent = make(tmp_path, f"{TMP_PREFIX}{os.getppid()}-ghi789")  # a live process
    unnamed = make(tmp_path, f"{TMP_PREFIX}xyz_1234")  # no pid in the name: only age counts
    old_unnamed = make(tmp_path, f"{TMP_PREFIX}old_1234", age_seconds=STALE_TMP_SECONDS + 60)
    old_live = make(tmp_path, f"{TMP_PREFIX}{os.getppid()}-jkl012", age_seconds=STALE_TMP_SECONDS + 60)
    complete = make(tmp_path, "abc-20250101T000000-1-x", age_seconds=STALE_TMP_SECONDS + 60)

    assert sorted(remove_abandoned(tmp_path)) == sorted([dead, old_unnamed, old_live])
    assert mine.is_dir() and parent.is_dir() and unnamed.is_dir() and complete.is_dir()
    assert not dead.exists()


def test_a_folder_that_vanished_meanwhile_is_not_abandoned(tmp_path: Path) -> None:
    assert is_abandoned(tmp_path / f"{TMP_PREFIX}{dead_pid()}-gone12") is False
