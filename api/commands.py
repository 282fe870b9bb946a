"""``rag serve``: the subcommand this package adds to the ``rag`` command line.

Registered in ``pyproject.toml`` under the ``rag.commands`` entry-point group, where
:mod:`rag.cli` finds it: the core never imports ``api/``. uvicorn and the app load
only when the command runs.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from rag.cli import Command
from rag.config import Settings
from rag.errors import ConfigError


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1 or RAG_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000 or RAG_PORT)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    p.add_argument("--watch", nargs="?", type=float, const=5.0, default=None, metavar="SECONDS",
                   help="rebuild and swap in the index when corpus files change (checked every 5 s)")
    p.add_argument("--allow-open", action="store_true",
                   help="serve without API keys on a non-loopback address (not recommended)")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Check the options against the settings, then serve until stopped (see :func:`api.server.run`)."""
    from api.server import run

    server = settings.server
    if args.watch is not None:
        if args.watch <= 0:
            raise ConfigError(f"--watch takes a positive number of seconds, got {args.watch}")
        settings = replace(settings, server=replace(server, watch_seconds=args.watch))
    if settings.server.watch_seconds > 0 and (args.workers or server.workers) > 1:
        raise ConfigError("--watch works with one worker: each worker would rebuild the index on its own")
    if not settings.index.auto_rebuild and not settings.store.url:  # the store checks its own on load
        from rag.index import verify_index

        # It may not rebuild, so a damaged index would only ever be a 503: refuse to start
        # instead, naming the file (a few megabytes hashed; the model is not loaded).
        verify_index(settings.index_dir)
    run(
        settings,
        host=args.host or server.host,
        port=args.port or server.port,
        workers=args.workers or server.workers,
        allow_open=args.allow_open,
    )
    return 0


SERVE = Command("serve", "run the HTTP API", _arguments, serve, position=50)
"""The ``serve`` entry point of the ``rag.commands`` group."""
