"""``rag serve`` as a child process on 127.0.0.1: start, wait for readiness, capture its log, stop.

The one harness that starts a real server, for the benchmark (``bench/run.py``) and the
end-to-end tests (``tests/e2e/serving.py``). The child runs ``python -m rag serve`` from
the repository root on a free loopback port, with stdout and stderr appended to one log
file. It gets the parent's environment without any ``RAG_*`` variable (the developer's shell
must not change the figures or the tests) plus the ones the caller sets, see
:func:`child_env`. It is stopped by its PID: SIGTERM, then SIGKILL if it does not exit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from bench.stats import cpu_seconds, rss_mib
from rag.errors import RagError

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.020
"""How often readiness is polled by default: often enough to time a cold start to 20 ms."""
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0
"""uvicorn gives in-flight requests 10 s on SIGTERM; after this the child is killed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without ``RAG_*``, offline and unbuffered, then ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    shared_tiktoken = ROOT.parent / "shared" / "tiktoken"
    if shared_tiktoken.is_dir():
        env.setdefault("TIKTOKEN_CACHE_DIR", str(shared_tiktoken))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class ServerError(RagError, RuntimeError):
    """The server exited or did not become ready; the message ends with the tail of its log.

    ``reason`` is the message without the log, for callers that show the log their own way.
    """

    def __init__(self, reason: str, log_tail: str | None = None) -> None:
        super().__init__(reason if log_tail is None else f"{reason}:\n{log_tail}")
        self.reason = reason


class ServeProcess:
    """One ``python -m rag serve`` child. Use as a context manager: it is always stopped."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_s: float | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServerError("server not started")
        return self.process.pid

    def start_and_wait(self, timeout_s: float = READY_TIMEOUT_S, *, poll_s: float = POLL_SECONDS) -> float:
        """Start the child and poll ``/readyz`` every ``poll_s``; seconds from spawn to the first 200.

        Raises :class:`ServerError` if the child exits first or is not ready within ``timeout_s``
        (it is left running then: :meth:`stop` it).
        """
        command = [sys.executable, "-m", "rag", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log_file:
            started = time.perf_counter()
            self.process = subprocess.Popen(command, cwd=ROOT, env=self._env, stdout=log_file,
                                            stderr=subprocess.STDOUT)
        deadline = started + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=1.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise ServerError(f"server exited with {self.process.returncode}", self.log_tail())
                try:
                    if client.get("/readyz").status_code == 200:
                        self.ready_s = time.perf_counter() - started
                        return self.ready_s
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(poll_s)
        raise ServerError(f"server not ready within {timeout_s:.0f} s", self.log_tail())

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM by PID, then SIGKILL after ``timeout_s``; returns the exit code (None if never started)."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.terminate()
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def log(self) -> str:
        """Everything the child has written to its log so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log()[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
