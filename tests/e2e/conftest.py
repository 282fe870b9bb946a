"""One real ``rag serve`` process for the whole session, shared by every e2e test file."""

from __future__ import annotations

from collections.abc import Iterator

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
