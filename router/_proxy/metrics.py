"""Prometheus metrics for one proxy app, in a registry of its own (two apps in one process never collide).

Under ``router serve --workers N`` every worker is its own process: the supervisor points
``PROMETHEUS_MULTIPROC_DIR`` at a private directory before the workers start, prometheus-client then keeps
each worker's values in files there, and ``/metrics`` answered by any worker adds them all up
(``MultiProcessCollector``). The in-flight gauge sums live workers only; the loop-lag gauge takes the max.

Download figures come from the router's fetcher: its counters are read after each request the router looked
at and at scrape time, and the difference since the last reading is added to counters here, so they add up
across workers like everything else. A router that never downloaded has no fetcher, and none is made.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from .._rewrite.pipeline import Router

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


class Metrics:
    """The proxy's metrics; ``render()`` is the ``/metrics`` body."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "router_proxy_requests",
            "API requests answered, by what router did (passed, routed, rejected; refused, overloaded, "
            "failed: answered by the proxy itself; cancelled: the client left) and HTTP status",
            ["outcome", "status"],
            registry=r,
        )
        self.rules = Counter(
            "router_proxy_rule_findings",
            "Diagnostics behind routed (fixed) and rejected requests, by rule",
            ["outcome", "rule"],
            registry=r,
        )
        self.inlined_bytes = Counter(
            "router_proxy_inlined_bytes", "Media bytes downloaded and inlined into forwarded requests", registry=r
        )
        self.downloads = Counter("router_fetch_downloads", "Completed media downloads", registry=r)
        self.cache_hits = Counter(
            "router_fetch_cache_hits", "Media answers that needed no download of their own", registry=r
        )
        self.download_failures = Counter("router_fetch_failures", "Media downloads that failed", registry=r)
        self.downloaded_bytes = Counter("router_fetch_downloaded_bytes", "Bytes of completed downloads", registry=r)
        self.upstream_latency = Histogram(
            "router_proxy_upstream_latency_seconds",
            "From handing the request to the router transport (downloads included) to the upstream's response headers",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "router_proxy_in_flight_requests",
            "API requests being handled (body upload to last byte relayed)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.upstream_in_flight = Gauge(
            "router_proxy_upstream_in_flight",
            "Requests holding an upstream slot (--max-upstream)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.loop_lag = Histogram(
            "router_proxy_event_loop_lag_seconds",
            "How late the event loop woke a periodic timer (time a callback held the loop)",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.loop_lag_max = Gauge(
            "router_proxy_event_loop_lag_max_seconds",
            "The worst event-loop lag seen since the process started",
            registry=r,
            multiprocess_mode="max",
        )
        self._worst_lag = 0.0
        self._fetch_seen = (0, 0, 0, 0)
        self._fetch_lock = threading.Lock()

    def observe_lag(self, seconds: float) -> None:
        self.loop_lag.observe(seconds)
        if seconds > self._worst_lag:
            self._worst_lag = seconds
            self.loop_lag_max.set(seconds)

    @property
    def worst_lag(self) -> float:
        return self._worst_lag

    def sync_fetcher(self, router: Router | None) -> None:
        """Add what the router's fetcher counted since the last call (never makes a fetcher)."""
        fetcher = router.active_fetcher if router is not None else None
        if fetcher is None:
            return
        stats = fetcher.stats
        now = (stats.downloads, stats.hits, stats.failures, stats.bytes)
        with self._fetch_lock:
            before, self._fetch_seen = self._fetch_seen, now
        for counter, new, old in zip(
            (self.downloads, self.cache_hits, self.download_failures, self.downloaded_bytes), now, before, strict=True
        ):
            if new > old:
                counter.inc(new - old)

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
