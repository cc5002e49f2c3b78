"""Webhook writes: emitting an event into the outbox (inside the caller's transaction), and the
admin's subscriptions (create, update, rotate the secret, resume, replay, delete)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from audit import services as audit
from core.errors import DomainError, NotFound
from core.tasks import enqueue_on_commit, send_task
from webhooks import secret_store
from webhooks.delivery import NUDGE_WINDOW_S
from webhooks.models import Delivery, Event, EventType, Subscription
from webhooks.network import TargetRefused, check_target
from webhooks.tasks import deliver_webhook as deliver_webhook_task
from webhooks.tasks import drain_subscription as drain_subscription_task

# Keys a payload may carry: ids, decisions, scores, thresholds, times. A name, a photo or an
# embedding has no key here, so a caller cannot leak one by mistake.
ALLOWED_PAYLOAD_KEYS = frozenset({
    "identity_id", "identity_ids", "photo_id", "photo_ids", "face_index", "decision", "reason", "score",
    "threshold", "candidate_count", "liveness", "liveness_score", "matched", "report_id", "report_kind",
    "status", "video_id", "request_id", "consent_id", "erase_after", "expired_on", "due_on",
    "reenrollment_request_id", "trigger", "track_count", "identified_count", "face_count", "at",
    "camera_id", "sighting_id", "first_seen", "last_seen",
})
# This process's last drain nudge per subscription.
_last_nudge: dict[int, float] = {}


# One statement, so one round trip inside the caller's transaction: the enabled subscriptions to the
# type, the event only when there is one (nobody listens: nothing to keep), a pending delivery for each.
_EMIT_SQL = f"""
WITH listeners AS (
    SELECT id FROM {Subscription._meta.db_table} WHERE enabled AND event_types @> %(types)s::jsonb
), event AS (
    INSERT INTO {Event._meta.db_table} (message_id, type, payload, identity_id, created_at)
    SELECT %(message_id)s, %(type)s, %(payload)s::jsonb, %(identity_id)s, %(now)s
    WHERE EXISTS (SELECT 1 FROM listeners)
    RETURNING id
)
INSERT INTO {Delivery._meta.db_table} (subscription_id, event_id, status, attempts, next_attempt_at, created_at)
SELECT listeners.id, event.id, %(pending)s, 0, %(now)s, %(now)s FROM listeners CROSS JOIN event
RETURNING subscription_id, event_id
"""


def emit(event_type: str, payload: dict, *, identity_id: int | None = None) -> Event | None:
    """Write the event and a pending delivery per subscribed subscription in the caller's transaction
    (one statement: it adds well under a millisecond to an identify); send them once it commits (a
    broker outage leaves them to the sweep, webhooks.tasks). None when nobody listens."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event {event_type!r}")
    unknown = set(payload) - ALLOWED_PAYLOAD_KEYS
    if unknown:
        raise ValueError(f"webhook payload keys not allowed: {sorted(unknown)}")
    message_id, now = uuid.uuid4(), timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_EMIT_SQL, {
            "types": json.dumps([event_type]), "message_id": message_id, "type": event_type,
            "payload": json.dumps(payload, cls=DjangoJSONEncoder), "identity_id": identity_id, "now": now,
            "pending": Delivery.Status.PENDING})
        delivered_to = cursor.fetchall()
    if not delivered_to:
        return None
    for subscription_id, _ in delivered_to:
        transaction.on_commit(lambda pk=subscription_id: _nudge(pk))
    event = Event(pk=delivered_to[0][1], message_id=message_id, type=event_type, payload=payload,
                  identity_id=identity_id, created_at=now)
    event._state.adding = False
    return event


def _nudge(subscription_id: int) -> None:
    """Queue a drain of the subscription unless this process queued one under NUDGE_WINDOW_S ago: that
    drain is still looking (webhooks.delivery.drain), so a busy site publishes a message or two per
    second instead of one per event, and an identify request does not wait for the broker."""
    now = time.time()
    if now - _last_nudge.get(subscription_id, 0.0) < NUDGE_WINDOW_S:
        return
    _last_nudge[subscription_id] = now
    if not send_task(drain_subscription_task, [subscription_id, now]):
        _last_nudge.pop(subscription_id, None)  # the broker is down: the sweep sends them


def _validate(url: str, event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EventType.values))
    if unknown:
        raise DomainError(f"unknown event types: {', '.join(unknown)}", code="invalid_event_type",
                          field="event_types")
    try:
        check_target(url)
    except TargetRefused as exc:
        raise DomainError(f"this URL cannot receive webhooks: {exc}", code="webhook_target_refused",
                          field="url") from None
    return sorted(set(event_types))


@transaction.atomic
def create_subscription(*, url: str, event_types: Sequence[str], enabled: bool = True, include_names: bool = False,
                        description: str = "", actor=None) -> tuple[Subscription, str]:
    """The subscription and its secret: returned this once, stored only encrypted."""
    types = _validate(url, event_types)
    secret = secret_store.new_secret()
    subscription = Subscription.objects.create(
        url=url, event_types=types, enabled=enabled, include_names=include_names, description=description,
        secret_encrypted=secret_store.encrypt(secret), created_by=actor if getattr(actor, "pk", None) else None)
    audit.record(action="webhook.create", actor=actor, target=subscription,
                 details={"event_types": types, "include_names": include_names})
    return subscription, secret


def _locked(subscription_id: int) -> Subscription:
    subscription = Subscription.objects.select_for_update().filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFound("no such webhook subscription")
    return subscription


@transaction.atomic
def update_subscription(*, subscription_id: int, actor=None, **changes) -> Subscription:
    subscription = _locked(subscription_id)
    url = changes.get("url", subscription.url)
    types = _validate(url, changes.get("event_types", subscription.event_types))
    names_before = subscription.include_names
    subscription.url, subscription.event_types = url, types
    for field in ("enabled", "include_names", "description"):
        if field in changes:
            setattr(subscription, field, changes[field])
    subscription.save()
    details = {"fields": sorted(changes)}
    if subscription.include_names != names_before:  # the names opt-in is always on the record
        details["include_names"] = subscription.include_names
    audit.record(action="webhook.update", actor=actor, target=subscription, details=details)
    return subscription


@transaction.atomic
def rotate_secret(*, subscription_id: int, actor=None) -> tuple[Subscription, str]:
    """A new secret; the old one still signs (a second signature) for FACEREC_WEBHOOK_ROTATION_GRACE_S."""
    subscription = _locked(subscription_id)
    secret = secret_store.new_secret()
    subscription.previous_secret_encrypted = subscription.secret_encrypted
    subscription.previous_secret_expires_at = timezone.now() + dt.timedelta(
        seconds=settings.FACEREC_WEBHOOK_ROTATION_GRACE_S)
    subscription.secret_encrypted = secret_store.encrypt(secret)
    subscription.save()
    audit.record(action="webhook.rotate_secret", actor=actor, target=subscription)
    return subscription, secret


@transaction.atomic
def resume_subscription(*, subscription_id: int, actor=None) -> Subscription:
    """Unpause: the failure count starts again and the deliveries it held are sent now."""
    subscription = _locked(subscription_id)
    subscription.paused_at, subscription.pause_reason, subscription.consecutive_failures = None, "", 0
    subscription.save()
    _send_pending(subscription)
    audit.record(action="webhook.resume", actor=actor, target=subscription)
    return subscription


def _send_pending(subscription: Subscription) -> None:
    now = timezone.now()
    pending = list(subscription.deliveries.filter(status=Delivery.Status.PENDING).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=pending).update(next_attempt_at=now)
    for pk in pending:
        enqueue_on_commit(deliver_webhook_task, [pk])


@transaction.atomic
def replay(*, delivery_id: int, actor=None) -> Delivery:
    """Send an event again to the same subscription (a new delivery; the original's log stays)."""
    original = Delivery.objects.filter(pk=delivery_id).select_related("subscription").first()
    if original is None:
        raise NotFound("no such webhook delivery")
    delivery = Delivery.objects.create(subscription=original.subscription, event_id=original.event_id,
                                       next_attempt_at=timezone.now())
    enqueue_on_commit(deliver_webhook_task, [delivery.pk])
    audit.record(action="webhook.replay", actor=actor, target=original.subscription,
                 details={"delivery_id": original.pk, "replay_id": delivery.pk})
    return delivery


@transaction.atomic
def delete_subscription(*, subscription_id: int, actor=None) -> None:
    subscription = _locked(subscription_id)
    audit.record(action="webhook.delete", actor=actor, target=subscription)
    subscription.delete()


def queue_due(*, limit: int = 500) -> int:
    """The sweep: queue deliveries that are due and whose message may have been lost (a broker
    outage at emit time, a worker killed mid-send). Sending twice is harmless: the task locks and
    re-checks the row."""
    # A delivery due for under FACEREC_WEBHOOK_SWEEP_AFTER_S still has its own message on the way.
    cutoff = timezone.now() - dt.timedelta(seconds=settings.FACEREC_WEBHOOK_SWEEP_AFTER_S)
    due = list(Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=cutoff,
                                       subscription__enabled=True, subscription__paused_at__isnull=True)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for pk in due:
        enqueue_on_commit(deliver_webhook_task, [pk])
    return len(due)


def delete_old_events(*, batch: int = 1000) -> int:
    """Events older than FACEREC_WEBHOOK_EVENT_DAYS go with their deliveries and attempt log (the
    daily job); one still waiting to be sent to a paused subscription stays until it is sent."""
    cutoff = timezone.now() - dt.timedelta(days=settings.FACEREC_WEBHOOK_EVENT_DAYS)
    deleted = 0
    while True:
        ids = list(Event.objects.filter(created_at__lt=cutoff)
                   .exclude(deliveries__status=Delivery.Status.PENDING).values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        Event.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
