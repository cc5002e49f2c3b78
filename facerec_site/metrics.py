"""The site's probes as scrape-time gauges: queue lengths and the health of worker, broker and
database. They live here, beside facerec_site.health, which monitoring does not import."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from facerec_site import health
from facerec_site.celery import app as celery_app
from facerec_site.workers import queue_backlog


def site_metrics():
    """Families read at each scrape from the checks /healthz and the home page use."""
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    checks["worker"] = health.cached_worker_check() if checks["broker"]["ok"] else {"ok": False, "count": 0}
    up = GaugeMetricFamily("facerec_component_up", "1 when the component answers its health check",
                           labels=["component"])
    for name, check in checks.items():
        up.add_metric([name], 1 if check["ok"] else 0)
    yield up
    yield GaugeMetricFamily("facerec_workers", "Celery workers answering pings", value=checks["worker"].get("count", 0))
    if not checks["broker"]["ok"]:
        return
    waiting = GaugeMetricFamily("facerec_queue_length", "Messages waiting in each Celery queue", labels=["queue"])
    oldest = GaugeMetricFamily("facerec_queue_oldest_seconds", "How long the oldest waiting message has waited",
                               labels=["queue"])
    for queue in health.QUEUES:
        backlog = queue_backlog(celery_app, queue)
        if backlog["waiting"] is not None:
            waiting.add_metric([queue], backlog["waiting"])
        if backlog["oldest_s"] is not None:
            oldest.add_metric([queue], backlog["oldest_s"])
    yield waiting
    yield oldest
