"""bench/webhook_bench.py in the suite, with small numbers (WEBHOOK_BENCH_* when run as the bench):
the figures are printed; what is asserted is only that every event arrived, signed."""

from __future__ import annotations

import os

import pytest

from bench import webhook_bench
from webhooks import services

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def subscribed(receiver, settings) -> str:
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    _, secret = services.create_subscription(url=receiver.url, event_types=["identify.unknown",
                                                                            "identify.identified"])
    return secret


def test_emit_delay_with_the_worker_elsewhere(subscribed):
    # First in the module: no worker started yet on this machine (as in a deployment with worker machines).
    delay = webhook_bench.emit_delay(int(os.environ.get("WEBHOOK_BENCH_EMITS", "100")))
    print(f"\nemit delay, no local worker: {delay}")
    assert delay["subscribed_p95_ms"] > 0


@pytest.mark.worker
def test_events_are_delivered_to_a_local_receiver(celery_worker, receiver, subscribed):
    rate = webhook_bench.delivery_rate(receiver, subscribed, int(os.environ.get("WEBHOOK_BENCH_EVENTS", "40")))
    print(f"\nwebhook delivery: {rate}")
    delay = webhook_bench.emit_delay(int(os.environ.get("WEBHOOK_BENCH_EMITS", "100")))
    print(f"emit delay, the worker delivering on the same cores: {delay}")
    assert rate["events_per_s"] > 0
