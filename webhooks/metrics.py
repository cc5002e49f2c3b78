"""The webhooks app's own Prometheus instruments (exported by monitoring's /metrics, multiprocess).

Outcomes only as labels: never a URL, a subscription's name or an event's content.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# delivered (2xx), failed (any other answer, a timeout, a connection error), refused (the SSRF guard)
DELIVERIES = Counter("facerec_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("facerec_webhook_delivery_seconds", "Time a receiver took to answer a delivery",
                    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def count_attempt(*, succeeded: bool, refused: bool, latency_ms: float | None) -> None:
    DELIVERIES.labels(outcome="delivered" if succeeded else "refused" if refused else "failed").inc()
    if latency_ms is not None:
        LATENCY.observe(latency_ms / 1000)
