"""What goes out of the platform: webhooks (the webhooks app) and metrics (/metrics, the monitoring app).

Beside settings.py, which imports it after reading .env, to keep that module under its size limit."""

from __future__ import annotations

import environ

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
# /metrics answers callers on this machine, and others sending `Authorization: Bearer <this>` (empty: none).
FACEREC_METRICS_TOKEN = env.str("FACEREC_METRICS_TOKEN", default="")
