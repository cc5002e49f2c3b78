"""Sending one delivery (the worker's side): lock it, keep the per-identity order, sign it with the
subscription's secret (and the previous one during a rotation), POST it, record the attempt, then
succeed, retry with backoff and jitter, or pause the subscription and say why."""

from __future__ import annotations

import datetime as dt
import json
import random
import time

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from core.tasks import send_task
from webhooks import metrics, network, secret_store
from webhooks.models import Delivery, DeliveryAttempt, Subscription
from webhooks.tasks import deliver_webhook as deliver_webhook_task
from webhooks.tasks import drain_subscription as drain_subscription_task

# emit publishes one drain per subscription and process at most this often; a drain keeps looking
# for new deliveries until this long after its nudge, so none committed meanwhile waits for the sweep.
NUDGE_WINDOW_S = 0.5
DRAIN_BUDGET_S = 60.0

MAX_BACKOFF_S = 3600.0


def backoff_s(attempts: int) -> float:
    """Exponential (base FACEREC_WEBHOOK_RETRY_BASE_S, doubling, at most an hour) with full jitter on
    the upper half, so receivers coming back are not hit by every retry at once."""
    delay = min(MAX_BACKOFF_S, settings.FACEREC_WEBHOOK_RETRY_BASE_S * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def body_of(delivery: Delivery) -> str:
    event, subscription = delivery.event, delivery.subscription
    data = dict(event.payload)
    if subscription.include_names and event.identity_id is not None:
        # Opted in (and audited): the name is looked up now, never kept in the outbox. A model
        # lookup by label, not an import: webhooks sits below identities.
        identity_model = apps.get_model("identities", "Identity")
        name = identity_model.objects.filter(pk=event.identity_id).values_list("display_name", flat=True).first()
        if name is not None:
            data["name"] = name
    return json.dumps({"type": event.type, "timestamp": event.created_at.isoformat(), "data": data},
                      separators=(",", ":"), sort_keys=True)


def signature_headers(subscription: Subscription, msg_id: str, body: str, *, now: dt.datetime) -> dict[str, str]:
    secrets = [secret_store.decrypt(subscription.secret_encrypted)]
    if subscription.previous_secret_encrypted and (subscription.previous_secret_expires_at or now) > now:
        secrets.append(secret_store.decrypt(subscription.previous_secret_encrypted))
    timestamp = now.astimezone(dt.timezone.utc)
    signatures = " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json",
            "user-agent": "facerec-webhooks/1"}


def _earlier_undelivered_exists(delivery: Delivery) -> bool:
    identity_id = delivery.event.identity_id
    return identity_id is not None and Delivery.objects.filter(
        subscription_id=delivery.subscription_id, status=Delivery.Status.PENDING,
        event__identity_id=identity_id, event_id__lt=delivery.event_id).exists()


def deliver(delivery_id: int) -> str:
    """One attempt; returns what happened (for the task's log). Safe to run twice at once: the row
    is locked for the attempt and the second runner skips it."""
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("event", "subscription").filter(pk=delivery_id).first())
        if delivery is None:
            return "locked or gone"
        subscription = delivery.subscription
        now = timezone.now()
        if delivery.status != Delivery.Status.PENDING:
            return "already delivered"
        if not subscription.active:
            return "subscription paused or disabled"
        if delivery.next_attempt_at > now:
            return "not due"
        if _earlier_undelivered_exists(delivery):
            return "waits for an earlier event of the same identity"
        body = body_of(delivery)
        headers = signature_headers(subscription, f"msg_{delivery.event.message_id.hex}", body, now=now)
        attempt = DeliveryAttempt(delivery=delivery, number=delivery.attempts + 1)
        refused = False
        try:
            answer = network.post(subscription.url, body.encode(), headers)
        except network.TargetRefused as exc:
            attempt.error, refused = f"refused: {exc}"[:500], True
        except Exception as exc:  # a connection error, a timeout: the receiver's or the network's fault
            attempt.error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            attempt.status_code, attempt.latency_ms = answer.status_code, answer.latency_ms
            attempt.response_excerpt = answer.excerpt
        attempt.save()
        metrics.count_attempt(succeeded=attempt.succeeded, refused=refused, latency_ms=attempt.latency_ms)
        delivery.attempts += 1
        if attempt.succeeded:
            _succeeded(delivery, subscription, now)
        else:
            _failed(delivery, subscription, attempt, now)
    if attempt.succeeded:
        _send_next_of_identity(delivery)
    return f"attempt {attempt.number}: {attempt.status_code or attempt.error}"


def _succeeded(delivery: Delivery, subscription: Subscription, now: dt.datetime) -> None:
    delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, now
    delivery.save(update_fields=["status", "delivered_at", "attempts"])
    Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)


def _failed(delivery: Delivery, subscription: Subscription, attempt: DeliveryAttempt, now: dt.datetime) -> None:
    failures = subscription.consecutive_failures + 1
    age_s = (now - delivery.event.created_at).total_seconds()
    reason = ""
    if failures >= settings.FACEREC_WEBHOOK_MAX_FAILURES:
        reason = f"{failures} consecutive failed deliveries"
    elif age_s >= settings.FACEREC_WEBHOOK_RETRY_FOR_S:
        reason = f"delivery #{delivery.pk} still failing after {age_s / 3600:.0f} h"
    if reason:
        last = f"HTTP {attempt.status_code}" if attempt.status_code else attempt.error
        Subscription.objects.filter(pk=subscription.pk).update(
            consecutive_failures=failures, paused_at=now, pause_reason=f"{reason}; last: {last}"[:500])
    else:
        Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=failures)
    delivery.next_attempt_at = now + dt.timedelta(seconds=backoff_s(delivery.attempts))
    delivery.save(update_fields=["next_attempt_at", "attempts"])
    if not reason:
        # Long waits outlive a broker's visibility timeout: the sweep sends those instead.
        countdown = (delivery.next_attempt_at - now).total_seconds()
        if countdown <= 600:
            transaction.on_commit(lambda: send_task(deliver_webhook_task, [delivery.pk], countdown=countdown))


def _send_next_of_identity(delivery: Delivery) -> None:
    """The next waiting delivery of the same identity and subscription goes now, in order."""
    if delivery.event.identity_id is None:
        return
    following = (Delivery.objects.filter(subscription_id=delivery.subscription_id, status=Delivery.Status.PENDING,
                                         event__identity_id=delivery.event.identity_id,
                                         next_attempt_at__lte=timezone.now())
                 .order_by("event_id").values_list("pk", flat=True).first())
    if following is not None:
        send_task(deliver_webhook_task, [following])


def drain(subscription_id: int, *, nudged_at: float) -> int:
    """Send the subscription's due deliveries in event order until none is left and the nudge window
    has passed; a drain that runs out of time hands on to another."""
    sent, started, seen = 0, time.monotonic(), set()
    while True:
        # `seen`: a delivery waiting for an earlier one of its identity is tried once per drain.
        due = list(Delivery.objects.exclude(pk__in=seen).filter(subscription_id=subscription_id, status=Delivery.Status.PENDING,
                                           attempts=0, next_attempt_at__lte=timezone.now(),
                                           subscription__enabled=True, subscription__paused_at__isnull=True)
                   .order_by("event_id").values_list("pk", flat=True)[:100])
        for pk in due:
            deliver(pk)
            seen.add(pk)
            sent += 1
        if not due:
            if time.time() > nudged_at + NUDGE_WINDOW_S + 0.2:
                return sent
            time.sleep(0.05)
        elif time.monotonic() - started > DRAIN_BUDGET_S:
            send_task(drain_subscription_task, [subscription_id, time.time()])
            return sent
