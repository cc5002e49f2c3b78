"""Webhook delivery figures (a benchmark, not a test): events per second delivered by the worker to a
local receiver, and the delay `emit` adds to an identify request (target: <= 2 ms at p95).

It runs through pytest, so that it uses a throwaway test database, the test broker and a real worker
(tests/conftest.py), never the platform's data:

    .venv/bin/python bench/webhook_bench.py [--events 500] [--emits 1000]

(TEST_DATABASE_NAME / TEST_BROKER_DB choose the database and broker db, as for the tests.)
tests/bench/test_webhook_bench.py runs the same code with small numbers in the suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def delivery_rate(receiver, secret: str, n_events: int, timeout_s: float = 300) -> dict:
    """Emit n events (each its own transaction, as in the services), then wait until the worker has
    delivered them all to the receiver; every signature is verified afterwards."""
    from webhooks import services

    started = time.perf_counter()
    for i in range(n_events):
        services.emit("identify.unknown", {"decision": "unknown", "face_index": 0, "threshold": 0.5})
    emitted_s = time.perf_counter() - started
    receiver.wait_for(n_events, timeout_s=timeout_s)
    total_s = time.perf_counter() - started
    assert len(receiver.verified(secret)) >= n_events
    return {"events": n_events, "emit_s": round(emitted_s, 3), "delivered_s": round(total_s, 3),
            "events_per_s": round(n_events / total_s, 1)}


def emit_delay(n_emits: int) -> dict:
    """What an identify request pays for its event. identify writes its audit entry, its scores and
    its events in one transaction: timed here are the emit call inside that transaction (with and
    without a subscriber to the event), and the whole write (audit entry + event + commit) against the
    same write without the event, whose difference includes the commit's extra bytes."""
    from django.db import transaction

    from audit import services as audit
    from webhooks import services

    def payload(i: int) -> dict:
        return {"identity_id": i, "face_index": 0, "decision": "identified", "score": 0.8, "threshold": 0.5}

    variants = ("identify.identified", "verify.completed", None)  # subscribed, nobody subscribed, no event
    emits: dict = {v: [] for v in variants}
    writes: dict = {v: [] for v in variants}
    for i in range(n_emits):
        for event_type in variants[i % 3:] + variants[:i % 3]:  # interleaved: drift and warm-up hit all alike
            t0 = time.perf_counter()
            with transaction.atomic():
                audit.record(action="recognition.identify", details={"faces": 1, "identified": [i]})
                t1 = time.perf_counter()
                if event_type is not None:
                    services.emit(event_type, payload(i), identity_id=i)
                emits[event_type].append((time.perf_counter() - t1) * 1000)
            writes[event_type].append((time.perf_counter() - t0) * 1000)

    def p95(values: list[float]) -> float:
        return round(percentile(values, 0.95), 3)

    subscribed, unsubscribed = emits["identify.identified"], emits["verify.completed"]
    with_event, without_event = writes["identify.identified"], writes[None]
    return {"emits": n_emits,
            "subscribed_p50_ms": round(statistics.median(subscribed), 3), "subscribed_p95_ms": p95(subscribed),
            "no_subscriber_p50_ms": round(statistics.median(unsubscribed), 3),
            "no_subscriber_p95_ms": p95(unsubscribed),
            "write_with_event_p95_ms": p95(with_event), "write_without_event_p95_ms": p95(without_event),
            "added_p95_ms": round(p95(with_event) - p95(without_event), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--emits", type=int, default=1000)
    args = parser.parse_args(argv)
    os.environ["WEBHOOK_BENCH_EVENTS"], os.environ["WEBHOOK_BENCH_EMITS"] = str(args.events), str(args.emits)
    os.chdir(REPO_ROOT)
    sys.path.insert(0, str(REPO_ROOT))
    import pytest

    return pytest.main(["tests/bench/test_webhook_bench.py", "-q", "-s", "-p", "no:cacheprovider"])


if __name__ == "__main__":
    sys.exit(main())
