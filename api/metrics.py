"""Prometheus metrics, one registry per app (tests and several apps in a process don't mix).

With ``workers > 1`` each uvicorn worker has its own registry, so a scrape sees the
worker that served it; run one worker per process manager target if that matters.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from rag.datatypes import Manifest

UNMATCHED_ROUTE = "<unmatched>"
"""Route label of requests no route matched (404, 405): raw paths would be unbounded."""

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds; answers on a laptop CPU take tens to hundreds of milliseconds."""

CONTENT_TYPE = "; ".join(p for p in CONTENT_TYPE_LATEST.split("; ") if not p.startswith("charset="))
"""The text exposition format's type without its charset: Litestar appends ``charset=utf-8``
to every ``text/*`` type, and two charset parameters are not a valid header."""


class Metrics:
    """The instruments, registered on a private :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "rag_http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "HTTP request latency by route and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("rag_http_requests_in_flight", "HTTP requests being served.", registry=r)
        self.pipeline_latency = Histogram(
            "rag_pipeline_duration_seconds",
            "Time inside the pipeline (answer, search), excluding queueing.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.work_in_flight = Gauge(
            "rag_work_in_flight", "Pipeline calls and feedback writes running (bounded by max_in_flight).", registry=r
        )
        self.refused = Counter(
            "rag_refused_total", "Requests answered 503 because the server was busy, by reason.", ["reason"], registry=r
        )
        for reason in ("overloaded", "timeout"):
            self.refused.labels(reason=reason)
        self.answers = Counter("rag_answers_total", "Answers returned, by outcome.", ["outcome"], registry=r)
        self.abstentions = Counter("rag_abstentions_total", "Answers that abstained.", registry=r)
        self.ready = Gauge("rag_ready", "1 once the index and model are loaded.", registry=r)
        self.index = Info("rag_index", "The loaded index (value is always 1).", registry=r)
        for outcome in ("answered", "abstained"):
            self.answers.labels(outcome=outcome)  # export zeros before the first answer

    def observe_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        route_label = route or UNMATCHED_ROUTE
        method_label = method if method in KNOWN_METHODS else "OTHER"
        self.requests.labels(route=route_label, method=method_label, status=str(status)).inc()
        self.latency.labels(route=route_label, method=method_label).observe(seconds)

    def observe_answer(self, abstained: bool) -> None:
        self.answers.labels(outcome="abstained" if abstained else "answered").inc()
        if abstained:
            self.abstentions.inc()

    def set_index(self, manifest: Manifest) -> None:
        self.index.info(
            {
                "index_version": manifest.index_version,
                "model": manifest.model_name,
                "n_chunks": str(manifest.n_chunks),
                "n_documents": str(manifest.n_documents),
            }
        )
        self.ready.set(1)

    def render(self) -> bytes:
        """The text exposition format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)
