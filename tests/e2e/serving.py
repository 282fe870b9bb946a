"""``rag serve`` as a real process on 127.0.0.1, for the end-to-end tests.

The process itself (free loopback port, readiness, log, clean stop) is
:class:`bench.server.ServeProcess`, the harness the benchmark uses too; this module adds
what the tests need around it. Each server gets its own folder: ``index/`` (built by the
server itself on first start, about 15 s), ``data/`` (the feedback database) and one log
file per start. A restart keeps the folder, so a restarted server reuses the index and the
data.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bench.server import ROOT, ServeProcess, ServerError, child_env

READY_TIMEOUT_S = 120.0
READY_POLL_S = 0.5
"""The tests do not time the start, so they poll less often than the benchmark does."""
STOP_TIMEOUT_S = 30.0
LOG_TAIL_CHARS = 4000
"""How much of the log a failed start shows."""


class Server:
    """One ``rag serve`` process (replaced by :meth:`restart`) and where it keeps things.

    Apart from its folders and the JSON log, a server runs on the shipped defaults (the
    rate limit's included: no ``RAG_RATE_LIMIT_*`` here), so the e2e tests see what a
    user's ``rag serve`` does; ``extra_env`` changes what a test needs.
    """

    def __init__(self, folder: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.env = child_env(
            {
                "RAG_INDEX_DIR": str(folder / "index"),
                "RAG_CORPUS_DIR": str(ROOT / "corpus"),
                "RAG_DATA_DIR": str(self.data_dir),
                "RAG_LOG_FORMAT": "json",
                "HF_HUB_OFFLINE": "1",
            }
            | dict(extra_env or {})
        )
        self.starts = 0
        self.child: ServeProcess | None = None
        self.base_url = ""
        self.log_path = folder / "server-1.log"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The running process, None before the first start and after :meth:`stop`."""
        return None if self.child is None else self.child.process

    def start(self) -> Server:
        self.starts += 1
        self.log_path = self.folder / f"server-{self.starts}.log"
        self.child = ServeProcess(self.env, self.log_path)
        self.base_url = self.child.base_url
        try:
            self.child.start_and_wait(READY_TIMEOUT_S, poll_s=READY_POLL_S)
        except ServerError as exc:
            pytest.fail(f"{exc.reason}:\n{self.log()[-LOG_TAIL_CHARS:]}")
        return self

    def stop(self) -> None:
        if self.child is None:
            return
        self.child.stop(STOP_TIMEOUT_S)
        self.child = None

    def restart(self) -> Server:
        """Stop the process and start a new one with the same folders (on a new port)."""
        self.stop()
        return self.start()

    def log(self) -> str:
        """The log of the latest start."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def rag(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``rag`` command line with this server's settings."""
        return subprocess.run(
            [sys.executable, "-m", "rag", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
