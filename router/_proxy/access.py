"""What one proxied request leaves behind: its ``Record``, counted in the metrics and written as one access line
(never a key, a query string or a data URL)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .metrics import Metrics

if TYPE_CHECKING:
    from .._rewrite.pipeline import Router

__all__ = ["Record", "finish"]

access_log = logging.getLogger("router.access")


@dataclass(slots=True)
class Record:
    """What the access log and the metrics say about one request."""

    method: str
    path: str
    client: str
    start: float = field(default_factory=time.perf_counter)
    status: int = 0
    outcome: str = "passed"
    rules: tuple[str, ...] = ()
    inlined_bytes: int = 0
    body_bytes: int = 0
    upstream_s: float | None = None


def finish(metrics: Metrics, record: Record, router: Router | None) -> None:
    """Count the request and write its access line (never a key, a query string or a data URL)."""
    m = metrics
    m.requests.labels(record.outcome, str(record.status)).inc()
    for rule in record.rules:
        m.rules.labels(record.outcome, rule).inc()
    if record.inlined_bytes:
        m.inlined_bytes.inc(record.inlined_bytes)
    if record.outcome in ("routed", "rejected"):
        m.sync_fetcher(router)
    if access_log.isEnabledFor(logging.INFO):
        total = (time.perf_counter() - record.start) * 1e3
        upstream = f"{record.upstream_s * 1e3:.1f}" if record.upstream_s is not None else "-"
        fields = {
            "method": record.method,
            "path": record.path,
            "status": record.status,
            "outcome": record.outcome,
            "rules": ",".join(record.rules) or "-",
            "inlined_bytes": record.inlined_bytes,
            "body_bytes": record.body_bytes,
            "upstream_ms": upstream,
            "total_ms": f"{total:.1f}",
            "client": record.client,
        }
        access_log.info(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"access": fields})
