"""``rag serve`` as a real process on 127.0.0.1, for the end-to-end tests.

Each server gets its own folder: ``index/`` (built by the server itself on first
start, about 15 s), ``data/`` (the feedback database) and the log files. A restart
keeps the folder, so a restarted server reuses the index and the data.
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
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``rag serve`` process (replaced by :meth:`restart`) and where it keeps things.

    Apart from its folders and the JSON log, a server runs on the shipped defaults (the
    rate limit's included: no ``RAG_RATE_LIMIT_*`` here), so the e2e tests see what a
    user's ``rag serve`` does; ``extra_env`` changes what a test needs.
    """

    def __init__(self, folder: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        self.env.update(
            {
                "RAG_INDEX_DIR": str(folder / "index"),
                "RAG_CORPUS_DIR": str(ROOT / "corpus"),
                "RAG_DATA_DIR": str(self.data_dir),
                "RAG_LOG_FORMAT": "json",
                "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(extra_env or {})
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.log_path = folder / "server-1.log"

    def start(self) -> Server:
        self.starts += 1
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = self.folder / f"server-{self.starts}.log"
        command = [sys.executable, "-m", "rag", "serve", "--host", "127.0.0.1", "--port", str(port)]
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        self.wait_until_ready()
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> Server:
        """Stop the process and start a new one with the same folders (on a new port)."""
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.5)
        pytest.fail(f"server not ready within {READY_TIMEOUT_S:.0f} s:\n{self.log()[-4000:]}")

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
