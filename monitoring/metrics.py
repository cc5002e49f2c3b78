"""The site's own instruments (HTTP requests, Celery tasks) and the scrape-time gauges.

Counters and histograms live in $PROMETHEUS_MULTIPROC_DIR (one file per process, summed at
scrape); the gauges of the platform's state are read from monitoring.selectors when /metrics is
scraped, so they equal the home page's figures at that moment.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

from core.db_errors import DATABASE_ERRORS
from monitoring import selectors

HTTP_REQUESTS = Counter("facerec_http_requests_total", "HTTP requests by route (URL pattern name) and status",
                        ["route", "method", "status"])
HTTP_SECONDS = Histogram("facerec_http_request_seconds", "HTTP request latency by route", ["route", "method"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
TASKS = Counter("facerec_celery_tasks_total", "Celery tasks run, by name and outcome", ["task", "outcome"])
TASK_SECONDS = Histogram("facerec_celery_task_seconds", "Celery task run time by name", ["task"],
                         buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800))


class PlatformCollector:
    """Gauges read at scrape time from the selectors the home page uses."""

    def collect(self):
        try:
            figures = selectors.platform_figures()
        except DATABASE_ERRORS:  # the database is down: the counters and the site's probes still answer
            return
        yield _gauge("facerec_identities", "Active identities (people)", figures.people)
        yield _gauge("facerec_active_templates", "Active face templates of the serving model",
                     figures.active_templates)
        photos = GaugeMetricFamily("facerec_photos", "Enrollment photos by status", labels=["status"])
        for status, count in figures.photos.items():
            photos.add_metric([status], count)
        yield photos
        answers = GaugeMetricFamily("facerec_recognition_answers_window",
                                    "Identify/verify answers recorded in the audit log over a window",
                                    labels=["window", "kind", "outcome"])
        for window, counts in figures.answers.items():
            for kind, by_outcome in (("identify", counts.identify), ("verify", counts.verify)):
                for outcome, count in by_outcome.items():
                    answers.add_metric([window, kind, outcome], count)
        yield answers
        thresholds = GaugeMetricFamily("facerec_threshold", "Thresholds in force (stored=1: applied, 0: default)",
                                       labels=["kind", "stored"])
        for threshold in figures.thresholds:
            thresholds.add_metric([threshold.kind, str(int(threshold.stored))], threshold.value)
        yield thresholds
        classifier = figures.classifier
        yield _gauge("facerec_classifier_version", "Current classifier's id (0: none)",
                     classifier.version if classifier else 0)
        if classifier is not None and classifier.age_s is not None:
            yield _gauge("facerec_classifier_age_seconds", "Age of the current classifier", classifier.age_s)
        yield _gauge("facerec_webhook_deliveries_pending", "Webhook deliveries not yet accepted by their receiver",
                     figures.pending_webhook_deliveries)
        info = InfoMetricFamily("facerec_build", "What is serving")
        info.add_metric([], selectors.build_info())
        yield info


class SiteCollector:
    """Wraps a callable of the site (health, queues) that yields metric families: the site's probes
    live in facerec_site, which monitoring does not import; facerec_site/urls.py hands them in."""

    def __init__(self, collect):
        self._collect = collect

    def collect(self):
        yield from self._collect()


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def exposition(extra_collectors=(), *, platform: bool = True) -> bytes:
    """Every process's samples (multiprocess files) and, with `platform`, the scrape-time gauges, in
    the text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    if platform:
        registry.register(PlatformCollector())
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry)


def process_exited(pid: int) -> None:
    """A process is gone (a gunicorn child, a Celery pool process): its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


_task_started: dict[str, float] = {}


def task_started(task_id: str) -> None:
    _task_started[task_id] = time.perf_counter()


def task_finished(task_id: str, task_name: str, state: str | None) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(task=task_name).observe(time.perf_counter() - started)
    TASKS.labels(task=task_name, outcome=(state or "unknown").lower()).inc()
