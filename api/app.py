"""``create_app``: the Litestar application factory.

``create_app()`` with no arguments reads :meth:`Settings.from_env` and loads the
pipeline in the background after start-up, which is what uvicorn's
``api.app:create_app --factory`` (used for ``workers > 1``) needs. Tests pass a
pipeline (or a loader) instead. Nothing heavy happens at import or in the factory:
the model and index load in the app's lifespan, off the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State

from api.admin import admin_router
from api.auth import KeyRing
from api.context import STATE_KEY, ApiContext, context_of
from api.conversations import Conversations
from api.docs import DOCS_PATH, StructContractPlugin, openapi_config
from api.errors import error_response
from api.feedback import FEEDBACK_STATE_KEY, FeedbackSink, feedback_router
from api.headers import SecurityHeaders
from api.metrics import Metrics
from api.observe import REQUEST_ID_HEADER, RequestObserver
from api.overload import WorkGate
from api.page import PAGE_ROUTES
from api.probes import PROBES
from api.ratelimit import RateLimiter
from api.readiness import Loader, Readiness, Service, load, load_pipeline
from api.reindex import Rebuild, Reindexer, follow_pipeline, follow_store, rebuild_pipeline, watch_corpus
from api.routes import v1_router
from rag.config import Settings
from rag.feedback import open_feedback_store

API_VERSION = "1.0.0"


def create_app(
    settings: Settings | None = None,
    pipeline: Service | None = None,
    *,
    loader: Loader | None = None,
    rebuild: Rebuild | None = None,
) -> Litestar:
    """Build the app.

    Args:
        settings: Defaults to :meth:`Settings.from_env` (the factory form).
        pipeline: A loaded :class:`rag.pipeline.Pipeline` (or anything with its surface);
            when given the app is ready at once and nothing is loaded.
        loader: How to build the pipeline when none is given; defaults to
            ``Pipeline.from_settings``. Runs in a worker thread after start-up.
        rebuild: How ``POST /v1/admin/reindex`` builds the next pipeline; defaults to
            rebuilding from the corpus with the loaded model.
    """
    settings = settings if settings is not None else Settings.from_env()
    server = settings.server
    metrics = Metrics()
    readiness = Readiness.with_pipeline(pipeline) if pipeline is not None else Readiness()
    if pipeline is not None:
        metrics.set_index(pipeline.manifest)
    keys = KeyRing.from_keys(server.api_keys)
    gate = WorkGate(server, metrics)
    context = ApiContext(
        settings=settings,
        readiness=readiness,
        metrics=metrics,
        keys=keys,
        limiter=RateLimiter(server.rate_limit_per_minute) if server.rate_limit_per_minute > 0 else None,
        admin_keys=KeyRing.from_keys(server.admin_keys),
        reindexer=Reindexer(readiness, settings, _track_index(metrics), rebuild or rebuild_pipeline),
        gate=gate,
        conversations=Conversations(),
    )
    feedback = FeedbackSink(lambda: open_feedback_store(settings))  # opened in its lifespan, off the event loop

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        ctx = context_of(app.state)
        async with anyio.create_task_group() as tasks:
            first_load = ctx.readiness.pipeline is None

            async def load_now() -> None:
                await load(ctx.readiness, ctx.settings, loader or load_pipeline, _track_index(metrics))

            if first_load:
                tasks.start_soon(load_now)
            if server.watch_seconds > 0:
                tasks.start_soon(watch_corpus, ctx.reindexer, ctx.readiness, ctx.settings, server.watch_seconds)
            if settings.store.url and settings.store.poll_seconds > 0:
                tasks.start_soon(follow_store, ctx.reindexer, ctx.readiness, ctx.settings,
                                 settings.store.poll_seconds, _track_index(metrics), follow_pipeline,
                                 load_now if first_load else None)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    app = Litestar(
        route_handlers=[
            v1_router(require_keys=keys.enabled),
            feedback_router(require_keys=keys.enabled),
            admin_router(),
            *PROBES,
            *PAGE_ROUTES,
        ],
        state=State({STATE_KEY: context, FEEDBACK_STATE_KEY: feedback}),
        lifespan=[lifespan, feedback.lifespan],
        exception_handlers={Exception: error_response},
        request_max_body_size=server.max_body_bytes,
        openapi_config=openapi_config(version=API_VERSION, require_keys=keys.enabled),
        plugins=[StructContractPlugin()],
        cors_config=_cors(server.cors_origins),
        logging_config=None,  # logging is configured by api.server (uvicorn's log config)
    )
    # Outermost layers, around Litestar's own exception handling and CORS: 404/405 are
    # raised by the router before any route middleware runs, and still need an id and
    # the security headers.
    app.asgi_handler = RequestObserver(SecurityHeaders(app.asgi_handler, DOCS_PATH), metrics)
    return app


def _track_index(metrics: Metrics) -> Callable[[Service], None]:
    """Keeps the index-version metric in step with the pipeline being served."""

    def on_ready(service: Service) -> None:
        metrics.set_index(service.manifest)

    return on_ready


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS only for the configured browser origins; none means no CORS headers at all."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        max_age=600,
    )
