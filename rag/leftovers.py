"""Temporary build folders left behind by a build that was killed mid-write.

:func:`rag.index.save_index` writes each build into ``builds/.tmp-<pid>-<random>`` and
renames it when complete, so a killed build leaves its folder behind, never a broken
``CURRENT``. :func:`remove_abandoned` (run after every successful build) deletes the
folders no build will finish.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600
"""A temporary build folder untouched this long is left over from a killed build (a
build takes seconds to minutes), whatever process id its name carries."""


def remove_abandoned(builds: Path) -> list[Path]:
    """Delete the abandoned temporary folders under ``builds``; returns what was deleted."""
    removed = []
    for tmp in builds.glob(f"{TMP_PREFIX}*"):
        if tmp.is_dir() and is_abandoned(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def is_abandoned(tmp: Path) -> bool:
    """Whether no build will ever finish ``tmp``.

    ``.tmp-<pid>-<random>`` is abandoned when process ``pid`` is gone. A folder untouched
    for :data:`STALE_TMP_SECONDS` is abandoned whatever its name says: that covers folders
    without a pid (older versions) and a pid since reused by an unrelated process. Never
    the folder of a build running in this very process (another thread's). Whether a pid
    is alive is only known on this machine: builds of one index folder are assumed to
    run on one machine.
    """
    try:
        idle = time.time() - tmp.stat().st_mtime  # each file a build creates in it renews this
    except OSError:  # removed meanwhile by another build's prune
        return False
    if idle > STALE_TMP_SECONDS:
        return True
    pid, *random = tmp.name.removeprefix(TMP_PREFIX).split("-")
    if len(random) != 1 or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return not process_alive(int(pid))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
