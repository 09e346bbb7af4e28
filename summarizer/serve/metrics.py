"""Prometheus metrics, served as text on ``GET /metrics``.

Each app has a registry of its own, not prometheus-client's global one, so that
several apps in one process (tests) do not share or clash over counters. Routes are
labelled by their template (``/v1/summaries``), and a path that matches no route as
``other``, so that a scanner trying random paths cannot grow the label set without
bound. The gauges are read from the limiter when scraped, so they cannot drift.

What a summary cost comes from its ``meta``, the same numbers the CLI reports:
tokens (``meta.usage``), re-asks (``meta.attempts.reasks``) and cache hits
(``meta.cache.hit``; a hit's tokens were counted when it was made); a failed
summary's tokens count too (the error's ``meta``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from summarizer.serve.limits import Limiter

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The service's counters, histogram and gauges in one registry."""

    def __init__(self, limiter: Limiter | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "summarizer_http_requests", "HTTP requests answered, by route, method and status",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "summarizer_http_request_duration_seconds", "Time to answer, by route",
            ["route"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "summarizer_model_tokens", "Model tokens, by kind (prompt, completion)",
            ["kind"], registry=r,
        )  # fmt: skip
        self.cache = Counter(
            "summarizer_cache_lookups", "Summaries by whether the answer cache had them",
            ["result"], registry=r,
        )  # fmt: skip
        self.reasks = Counter(
            "summarizer_reasks", "Re-asks after an invalid or ungrounded answer", registry=r
        )
        in_flight = Gauge("summarizer_inflight", "Summaries running now", registry=r)
        queued = Gauge("summarizer_queue_depth", "Summaries waiting for a slot", registry=r)
        if limiter is not None:
            in_flight.set_function(lambda: limiter.in_flight)
            queued.set_function(lambda: limiter.waiting)

    def watch_jobs(self, counts: Callable[[], Mapping[str, int]], statuses: Iterable[str]) -> None:
        """Jobs kept, by status, read from the job store when scraped (a job's tokens
        and cost are in its ledger, not in these counters)."""
        jobs = Gauge("summarizer_jobs", "Jobs kept, by status", ["status"], registry=self.registry)
        for status in statuses:
            jobs.labels(status).set_function(partial(_count, counts, status))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def summary(self, meta: Mapping[str, Any]) -> None:
        """Count what one summary (or a failed one) cost, from its ``meta``."""
        cache = meta.get("cache")
        if isinstance(cache, dict) and "hit" in cache:
            self.cache.labels("hit" if cache["hit"] else "miss").inc()
            if cache["hit"]:
                return  # its tokens and re-asks were counted when it was made
        usage = meta.get("usage") or {}
        for kind in ("prompt", "completion"):
            tokens = usage.get(f"{kind}_tokens")
            if isinstance(tokens, int) and tokens > 0:
                self.tokens.labels(kind).inc(tokens)
        reasks = (meta.get("attempts") or {}).get("reasks")
        if isinstance(reasks, int) and reasks > 0:
            self.reasks.inc(reasks)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _count(counts: Callable[[], Mapping[str, int]], key: str) -> int:
    return counts().get(key, 0)
