"""bench/webhook_bench.py in the suite, with small numbers (WEBHOOK_BENCH_* when run as the bench):
the figures are printed; what is asserted is only that every event arrived, signed."""

from __future__ import annotations

import os

import pytest

from bench import webhook_bench
from webhooks import services

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_events_are_delivered_to_a_local_receiver_and_emit_stays_cheap(celery_worker, receiver, settings):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    _, secret = services.create_subscription(url=receiver.url, event_types=["identify.unknown",
                                                                            "identify.identified"])
    rate = webhook_bench.delivery_rate(receiver, secret, int(os.environ.get("WEBHOOK_BENCH_EVENTS", "40")))
    print(f"\nwebhook delivery: {rate}")
    delay = webhook_bench.emit_delay(int(os.environ.get("WEBHOOK_BENCH_EMITS", "100")))
    print(f"emit delay: {delay}")
    assert rate["events_per_s"] > 0 and delay["subscribed_p95_ms"] > 0
