"""``run()``: serve the app with uvicorn (what ``rag serve`` calls).

Without API keys the API is open to anyone who can reach it, so ``run`` refuses a
non-loopback address unless the caller says ``allow_open=True`` (``rag serve
--allow-open``), and says so in a warning line either way.
"""

from __future__ import annotations

import logging
import logging.config

import uvicorn
from litestar import Litestar

from api.app import create_app
from api.logs import uvicorn_log_config
from api.ratelimit import is_loopback_address
from rag.config import Settings
from rag.errors import ConfigError

log = logging.getLogger("rag.api")

FACTORY = "api.app:create_app"
GRACEFUL_SHUTDOWN_SECONDS = 10
"""In-flight answers get this long to finish on SIGTERM/SIGINT."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    Any other hostname counts as public: where it resolves cannot be told here.
    """
    return host.strip().lower() == "localhost" or is_loopback_address(host)


def exposure_warning(settings: Settings, host: str, port: int, allow_open: bool) -> str | None:
    """The warning to log before serving (``None`` when keys are configured).

    Raises:
        ConfigError: no keys, a non-loopback host and ``allow_open`` not given.
    """
    if settings.server.api_keys:
        return None
    if is_loopback(host):
        return (
            f"no API keys configured: the API at http://{host}:{port} is open to every local user "
            "and process (set RAG_API_KEYS or RAG_API_KEYS_FILE to require keys)"
        )
    if not allow_open:
        raise ConfigError(
            f"refusing to serve without API keys on {host}, which is reachable from other machines: "
            "set RAG_API_KEYS (or RAG_API_KEYS_FILE), bind 127.0.0.1, or pass --allow-open"
        )
    return f"no API keys configured and bound to {host}:{port}: the API is open to the network (--allow-open)"


def run(settings: Settings, host: str, port: int, workers: int, *, allow_open: bool = False) -> None:
    """Serve until SIGINT/SIGTERM. Blocks.

    With ``workers == 1`` the app is built here from ``settings``. With more, each
    uvicorn worker process builds its own from :data:`FACTORY`, i.e. from the
    environment (``Settings.from_env()``): settings changed in code after reading the
    environment would not reach the workers, so that case is refused.
    """
    if workers < 1:
        raise ConfigError(f"workers={workers} must be at least 1")
    warning = exposure_warning(settings, host, port, allow_open)
    if workers > 1 and settings != Settings.from_env():
        raise ConfigError(
            "with more than one worker every worker reads its settings from the environment: "
            "set them as RAG_* variables instead of in code"
        )
    log_config = uvicorn_log_config(settings.server.log_format)
    logging.config.dictConfig(log_config)
    if warning:
        log.warning(warning)
    app: Litestar | str = create_app(settings) if workers == 1 else FACTORY
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_config=log_config,
        access_log=False,  # api.observe writes the access log, with request ids
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
