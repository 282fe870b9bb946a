"""The HTTP API (Litestar): ``create_app(settings=None, pipeline=None)``.

Modules, each owning one thing: ``app`` (factory), ``routes`` (/v1), ``probes``
(/healthz, /readyz, /metrics), ``schemas`` (wire types), ``mapping`` (core -> wire),
``errors`` (the one error shape), ``context``, ``bodies``, ``auth``, ``guards``, ``ratelimit``,
``readiness``, ``observe`` (request ids, access log), ``metrics``, ``logs``, ``docs``
(OpenAPI + offline Swagger UI) and ``server`` (uvicorn).
"""

from api.app import create_app

__all__ = ["create_app"]
