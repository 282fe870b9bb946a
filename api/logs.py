"""Log records of the API: the access line, the JSON formatter and uvicorn's log config.

Named ``logs`` rather than ``logging`` so it never shadows the standard library.
Access lines carry structured fields in ``record.fields``; the text format shows them
inline, the JSON format (``RAG_LOG_FORMAT=json``) emits one object per line. Request
headers are never logged, so neither are API keys.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "rag.api.access"
access_log = logging.getLogger(ACCESS_LOGGER)

MAX_LOGGED_PATH = 256
"""Longer request paths are cut in the log: a client should not be able to flood it."""


def log_access(
    *,
    request_id: str,
    method: str,
    path: str,
    route: str | None,
    status: int,
    duration_ms: float,
    client: str | None,
) -> None:
    """Write one access line: INFO, or WARNING for 5xx so they stand out.

    503 stays INFO: it is expected while the index loads, and a failed load is logged
    once, at ERROR, by :mod:`api.readiness`.
    """
    fields = {
        "request_id": request_id,
        "method": method,
        "path": path[:MAX_LOGGED_PATH],
        "route": route,
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "client": client,
    }
    access_log.log(
        logging.WARNING if status >= 500 and status != 503 else logging.INFO,
        '%s "%s %s" %d %.1fms request_id=%s',
        client or "-",
        method,
        fields["path"],
        status,
        duration_ms,
        request_id,
        extra={"fields": fields},
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn and this project's loggers.

    uvicorn applies it in every worker process. Its own access log is switched off by
    :func:`api.server.run`: :mod:`api.observe` writes a better one with request ids.
    """
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
            "json": {"()": "api.logs.JsonFormatter"},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "rag": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
