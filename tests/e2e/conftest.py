"""One real ``rag serve`` process for the whole session, shared by every e2e test file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.serving import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server builds its own index into a temporary folder (about 15 s), so the e2e
    tests exercise the real model, index, pipeline, app factory, uvicorn and the socket."""
    started = Server(tmp_path_factory.mktemp("serve"))
    try:
        started.start()
        yield started
    finally:
        started.stop()


CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium (installed by .ci/run); browser downloads are impossible here."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium per test module: Playwright's sync API keeps an event loop
    running while it is open, which later ``asyncio.run`` calls must not see."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
