"""The webhook outbox against real outages: an event written while the broker is down, and a worker
killed in the middle of a delivery, both reach the receiver once things are back (the sweep), signed,
with the same message id (receivers deduplicate by it). The receiver is an HTTP server in this process."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.resilience.conftest import json_body, lfw_photo
from tests.webhooks.receiver import start_receiver

pytestmark = pytest.mark.resilience


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def empty_outbox(stack) -> None:
    """No subscription or event of an earlier test: each test counts its own deliveries."""
    with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("TRUNCATE webhooks_deliveryattempt, webhooks_delivery, webhooks_event, webhooks_subscription")


def subscribe(stack, receiver) -> str:
    answer = stack.api().post(f"{stack.base_url}/api/v1/webhooks/", timeout=30,
                              json={"url": receiver.url, "event_types": ["identify.unknown"]})
    assert answer.status_code == 201, answer.text[:2000]
    return answer.json()["secret"]


def identify_a_stranger(stack, n: int) -> dict:
    answer = stack.api().post(f"{stack.base_url}/api/v1/identify", timeout=60,
                              files={"image": lfw_photo("Tony_Blair", n)})
    assert answer.status_code == 200, answer.text[:2000]
    [face] = json_body(answer)["faces"]
    assert face["label"] == "unknown"
    return face


def deliveries(stack) -> list[tuple]:
    return stack.sql("""SELECT d.status, d.attempts, e.message_id FROM webhooks_delivery d
                        JOIN webhooks_event e ON e.id = d.event_id ORDER BY d.id""")


def test_an_event_written_while_the_broker_is_down_is_delivered_when_it_returns(healthy_stack, receiver):
    stack = healthy_stack
    stack.ensure_worker()
    empty_outbox(stack)
    secret = subscribe(stack, receiver)

    stack.stop_broker()
    try:
        identify_a_stranger(stack, 1)
        [(status, attempts, message_id)] = deliveries(stack)  # written with the answer's audit entry
    finally:
        stack.start_broker()
    assert (status, attempts) == ("pending", 0)
    assert receiver.requests == []

    time.sleep(1.1)  # due for longer than the sweep's threshold (FACEREC_WEBHOOK_SWEEP_AFTER_S)
    stack.send_webhook_sweep()  # what beat does every FACEREC_WEBHOOK_SWEEP_S

    [request] = receiver.wait_for(1, timeout_s=90)
    [payload] = receiver.verified(secret)
    assert payload["type"] == "identify.unknown" and payload["data"]["decision"] == "unknown"
    assert request.headers["webhook-id"] == f"msg_{message_id.hex}"
    deadline = time.monotonic() + 30
    while deliveries(stack)[0][0] != "delivered":
        assert time.monotonic() < deadline, deliveries(stack)
        time.sleep(0.2)


def test_a_delivery_cut_by_a_killed_worker_is_sent_again_by_the_next_one(healthy_stack, receiver):
    stack = healthy_stack
    stack.ensure_worker()
    empty_outbox(stack)
    secret = subscribe(stack, receiver)
    receiver.delay_s = 3.0  # the worker waits for the answer: long enough to be killed meanwhile

    identify_a_stranger(stack, 2)
    receiver.wait_for(1, timeout_s=90)
    stack.worker.kill()  # SIGKILL, mid-request: its transaction (the attempt, the status) dies with it
    receiver.delay_s = 0.0
    [(status, attempts, message_id)] = deliveries(stack)
    assert (status, attempts) == ("pending", 0)

    stack.start_worker()
    time.sleep(1.1)
    stack.send_webhook_sweep()

    first, second = receiver.wait_for(2, timeout_s=90)[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{message_id.hex}"
    assert len(receiver.verified(secret)) >= 2
    deadline = time.monotonic() + 30
    while deliveries(stack)[0][:2] != ("delivered", 1):
        assert time.monotonic() < deadline, deliveries(stack)
        time.sleep(0.2)
