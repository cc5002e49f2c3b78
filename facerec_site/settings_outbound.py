"""What goes out of the platform: webhooks (the webhooks app) and metrics (/metrics, the monitoring app).

Beside settings.py, which imports it after reading .env, to keep that module under its size limit."""

from __future__ import annotations

import environ
from celery.schedules import crontab

env = environ.Env()

# CIDRs a webhook may reach although they are not public (private, loopback, link-local): empty
# by default, so no subscription can reach the site's own network or a cloud metadata address.
FACEREC_WEBHOOK_ALLOWED_NETWORKS = env.list("FACEREC_WEBHOOK_ALLOWED_NETWORKS", default=[])
# A subscription is paused after this many failed deliveries in a row, or when one delivery
# has failed for FACEREC_WEBHOOK_RETRY_FOR_S; retries wait RETRY_BASE_S, doubling, with jitter.
FACEREC_WEBHOOK_MAX_FAILURES = env.int("FACEREC_WEBHOOK_MAX_FAILURES", default=20)
FACEREC_WEBHOOK_RETRY_FOR_S = env.int("FACEREC_WEBHOOK_RETRY_FOR_S", default=24 * 3600)
FACEREC_WEBHOOK_RETRY_BASE_S = env.float("FACEREC_WEBHOOK_RETRY_BASE_S", default=5.0)
# After a secret's rotation the old secret still signs (a second signature) this long.
FACEREC_WEBHOOK_ROTATION_GRACE_S = env.int("FACEREC_WEBHOOK_ROTATION_GRACE_S", default=24 * 3600)
# The sweep that sends due deliveries whose message was lost (broker outage, killed worker).
FACEREC_WEBHOOK_SWEEP_S = env.float("FACEREC_WEBHOOK_SWEEP_S", default=30.0)
# ...of deliveries due for longer than this (a younger one still has its own message on the way).
FACEREC_WEBHOOK_SWEEP_AFTER_S = env.float("FACEREC_WEBHOOK_SWEEP_AFTER_S", default=20.0)
# Events are kept this many days, with their deliveries and attempt log, then deleted (a daily job);
# one with a delivery still pending (a paused subscription) is kept until it is sent or the subscription goes.
FACEREC_WEBHOOK_EVENT_DAYS = env.int("FACEREC_WEBHOOK_EVENT_DAYS", default=30)
# Certificates (PEM) a https receiver's may chain to, besides the system's (a private CA); empty: the system's only.
FACEREC_WEBHOOK_CA_BUNDLE = env.str("FACEREC_WEBHOOK_CA_BUNDLE", default="")
WEBHOOK_BEAT_SCHEDULE = {  # part of settings.CELERY_BEAT_SCHEDULE
    "send-due-webhooks": {"task": "webhooks.tasks.send_due_webhooks", "schedule": FACEREC_WEBHOOK_SWEEP_S},
    "delete-old-webhook-events": {"task": "webhooks.tasks.delete_old_webhook_events",
                                  "schedule": crontab(minute=15, hour=2)},
}
# /metrics answers callers on this machine, and others sending `Authorization: Bearer <this>` (empty: none).
FACEREC_METRICS_TOKEN = env.str("FACEREC_METRICS_TOKEN", default="")
# A worker on another machine or container serves its task metrics on this port (0: off; the site's
# /metrics counts workers sharing its PROMETHEUS_MULTIPROC_DIR, as under `make run`), same access rule.
FACEREC_WORKER_METRICS_PORT = env.int("FACEREC_WORKER_METRICS_PORT", default=0)
FACEREC_WORKER_METRICS_HOST = env.str("FACEREC_WORKER_METRICS_HOST", default="0.0.0.0")
