"""``rag serve`` as a child process on 127.0.0.1: start, time readiness, read its memory, stop.

The child gets the parent's environment without any ``RAG_*`` variable (the developer's
shell must not change the figures) plus the ones the benchmark sets.
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

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.020
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0
"""uvicorn gives in-flight requests 10 s on SIGTERM; after this the child is killed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    shared_tiktoken = ROOT.parent / "shared" / "tiktoken"
    if shared_tiktoken.is_dir():
        env.setdefault("TIKTOKEN_CACHE_DIR", str(shared_tiktoken))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class ServerError(RuntimeError):
    """The server exited or did not become ready; the message ends with its log."""


class Server:
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

    def start_and_wait(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Start the child and poll ``/readyz`` every 20 ms; seconds from spawn to the first 200."""
        command = [sys.executable, "-m", "rag", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log_file:
            started = time.perf_counter()
            self.process = subprocess.Popen(command, cwd=ROOT, env=self._env, stdout=log_file,
                                            stderr=subprocess.STDOUT)
        deadline = started + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=1.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise ServerError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        self.ready_s = time.perf_counter() - started
                        return self.ready_s
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(POLL_SECONDS)
        raise ServerError(f"server not ready within {timeout_s:.0f} s:\n{self.log_tail()}")

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> int | None:
        """SIGTERM by PID, then SIGKILL after :data:`STOP_TIMEOUT_S`; returns the exit code."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.terminate()
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
