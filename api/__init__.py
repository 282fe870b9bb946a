"""The HTTP API (Litestar): ``create_app(settings=None, pipeline=None)``.

Modules, each owning one thing: ``app`` (factory), ``routes`` (/v1), ``probes``
(/healthz, /readyz, /metrics), ``schemas`` (wire types), ``mapping`` (core -> wire),
``errors`` (the one error shape), ``context``, ``bodies``, ``auth``, ``guards``, ``ratelimit``,
``readiness``, ``observe`` (request ids, access log), ``metrics``, ``logs``, ``docs``
(OpenAPI + offline Swagger UI), ``server`` (uvicorn) and ``commands`` (``rag serve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """``create_app`` is imported on first use: ``rag --help`` finds the ``serve`` command in
    ``api.commands`` without loading Litestar."""
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
