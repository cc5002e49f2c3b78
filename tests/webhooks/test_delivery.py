"""Delivery against a real receiver on 127.0.0.1, in-process: signatures, retries, pause and resume,
rotation, replay, per-identity order, and no personal data in payloads."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from audit.models import AuditLog
from tests.photo_fixtures import consenting_person
from webhooks import delivery, services
from webhooks.models import Delivery, DeliveryAttempt, Subscription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

EVENTS = ["identify.identified", "identify.unknown", "photo.approved", "identity.erased"]


def subscribe(receiver, **kwargs) -> tuple[Subscription, str]:
    return services.create_subscription(url=receiver.url, event_types=kwargs.pop("event_types", EVENTS), **kwargs)


def send_all() -> None:
    """What the worker does, in order: every due delivery once."""
    for pk in Delivery.objects.filter(status="pending", next_attempt_at__lte=timezone.now()).values_list("pk", flat=True):
        delivery.deliver(pk)


def make_due(pk: int) -> None:
    Delivery.objects.filter(pk=pk).update(next_attempt_at=timezone.now())


def test_an_event_is_delivered_signed_in_the_standard_webhooks_shape(receiver):
    sub, secret = subscribe(receiver)
    event = services.emit("identify.identified", {"identity_id": 7, "score": 0.91, "threshold": 0.6,
                                                  "decision": "identified", "face_index": 0}, identity_id=7)
    send_all()
    [payload] = receiver.verified(secret)
    assert payload["type"] == "identify.identified"
    assert payload["data"] == {"identity_id": 7, "score": 0.91, "threshold": 0.6, "decision": "identified",
                               "face_index": 0}
    assert receiver.requests[0].headers["webhook-id"] == f"msg_{event.message_id.hex}"
    with pytest.raises(WebhookVerificationError):
        Webhook(services.secret_store.new_secret()).verify(receiver.requests[0].body, receiver.requests[0].headers)
    d = Delivery.objects.get()
    assert d.status == "delivered" and d.attempts == 1
    assert DeliveryAttempt.objects.get().status_code == 200


def test_the_secret_is_stored_encrypted_and_shown_once(receiver):
    sub, secret = subscribe(receiver)
    stored = Subscription.objects.get(pk=sub.pk)
    assert secret.startswith("whsec_") and secret not in stored.secret_encrypted
    assert services.secret_store.decrypt(stored.secret_encrypted) == secret


def test_unsubscribed_or_disabled_subscriptions_get_nothing(receiver):
    subscribe(receiver, event_types=["photo.approved"])
    subscribe(receiver, enabled=False)
    assert services.emit("identify.unknown", {"decision": "unknown"}) is None
    assert Delivery.objects.count() == 0


def test_payloads_refuse_names_photos_and_embeddings():
    for key in ("name", "display_name", "photo", "embedding", "image"):
        with pytest.raises(ValueError):
            services.emit("identify.identified", {key: "x"})


def test_names_are_added_only_for_a_subscription_that_opted_in_and_the_opt_in_is_audited(receiver):
    person = consenting_person("Ada Example")
    plain, plain_secret = subscribe(receiver)
    named, named_secret = subscribe(receiver, include_names=True)
    services.emit("photo.approved", {"identity_id": person.pk, "photo_id": 1}, identity_id=person.pk)
    send_all()
    by_id = {r.headers["webhook-signature"]: r for r in receiver.requests}
    bodies = {}
    for r in by_id.values():
        for sub, secret in ((plain, plain_secret), (named, named_secret)):
            try:
                bodies[sub.pk] = Webhook(secret).verify(r.body, r.headers)
            except WebhookVerificationError:
                pass
    assert "name" not in bodies[plain.pk]["data"]
    assert bodies[named.pk]["data"]["name"] == person.display_name
    assert person.display_name not in json.dumps(list(services.Event.objects.values("payload")))
    assert AuditLog.objects.filter(action="webhook.create", details__include_names=True).count() == 1


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(receiver, settings):
    settings.FACEREC_WEBHOOK_RETRY_BASE_S = 10
    receiver.script = [500, 503]
    sub, secret = subscribe(receiver)
    services.emit("identity.erased", {"identity_id": 3}, identity_id=3)
    d = Delivery.objects.get()
    for expected in (1, 2):
        before = timezone.now()
        delivery.deliver(d.pk)
        d.refresh_from_db()
        assert d.status == "pending" and d.attempts == expected
        wait = (d.next_attempt_at - before).total_seconds()
        base = 10 * 2 ** (expected - 1)
        assert base / 2 <= wait <= base + 1  # exponential, jittered
        assert delivery.deliver(d.pk) == "not due"
        make_due(d.pk)
    delivery.deliver(d.pk)
    d.refresh_from_db()
    assert d.status == "delivered"
    assert list(d.attempt_log.values_list("status_code", flat=True)) == [500, 503, 200]
    assert Subscription.objects.get(pk=sub.pk).consecutive_failures == 0
    assert len(receiver.verified(secret)) == 3


def test_a_slow_receiver_times_out_and_the_attempt_says_so(receiver, monkeypatch):
    monkeypatch.setattr(delivery.network, "TIMEOUT_S", 0.3)
    receiver.delay_s = 1.0
    subscribe(receiver)
    services.emit("identify.unknown", {"decision": "unknown"})
    send_all()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and "Timeout" in attempt.error
    assert Delivery.objects.get().status == "pending"


def test_after_n_consecutive_failures_the_subscription_pauses_and_resumes(receiver, settings):
    settings.FACEREC_WEBHOOK_MAX_FAILURES = 3
    receiver.script = [500] * 3
    sub, _ = subscribe(receiver)
    services.emit("identify.unknown", {"decision": "unknown"})
    d = Delivery.objects.get()
    for _ in range(3):
        make_due(d.pk)
        delivery.deliver(d.pk)
    sub.refresh_from_db()
    assert sub.paused_at is not None and "3 consecutive failed deliveries" in sub.pause_reason
    assert "HTTP 500" in sub.pause_reason
    make_due(d.pk)
    assert delivery.deliver(d.pk) == "subscription paused or disabled"
    services.resume_subscription(subscription_id=sub.pk)
    delivery.deliver(d.pk)
    d.refresh_from_db()
    sub.refresh_from_db()
    assert d.status == "delivered" and sub.paused_at is None and sub.consecutive_failures == 0


def test_a_delivery_failing_for_24_hours_pauses_the_subscription(receiver):
    receiver.script = [500]
    sub, _ = subscribe(receiver)
    event = services.emit("identify.unknown", {"decision": "unknown"})
    type(event).objects.filter(pk=event.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    send_all()
    sub.refresh_from_db()
    assert sub.paused_at is not None and "after 25 h" in sub.pause_reason


def test_rotation_sends_both_signatures_during_the_grace_period(receiver):
    sub, old = subscribe(receiver)
    _, new = services.rotate_secret(subscription_id=sub.pk)
    services.emit("identify.unknown", {"decision": "unknown"})
    send_all()
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2
    assert receiver.verified(old) and receiver.verified(new)
    Subscription.objects.filter(pk=sub.pk).update(previous_secret_expires_at=timezone.now())
    services.emit("identify.unknown", {"decision": "unknown"})
    send_all()
    last = receiver.requests[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(last.body, last.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(last.body, last.headers)


def test_a_delivery_can_be_replayed(receiver):
    sub, secret = subscribe(receiver)
    services.emit("photo.approved", {"photo_id": 5, "identity_id": 2}, identity_id=2)
    send_all()
    original = Delivery.objects.get()
    replay = services.replay(delivery_id=original.pk)
    delivery.deliver(replay.pk)
    first, second = receiver.verified(secret)
    assert first == second
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert AuditLog.objects.filter(action="webhook.replay").exists()


def test_deliveries_of_one_identity_keep_their_order(receiver):
    receiver.script = [500]
    sub, secret = subscribe(receiver)
    services.emit("photo.approved", {"photo_id": 1, "identity_id": 9}, identity_id=9)
    services.emit("identity.erased", {"identity_id": 9}, identity_id=9)
    services.emit("identify.unknown", {"decision": "unknown"})  # no identity: not held back
    first, second, other = Delivery.objects.order_by("pk")
    delivery.deliver(first.pk)  # 500
    assert delivery.deliver(second.pk) == "waits for an earlier event of the same identity"
    assert delivery.deliver(other.pk).endswith("200")
    make_due(first.pk)
    delivery.deliver(first.pk)
    delivery.deliver(second.pk)
    types = [p["type"] for p in receiver.verified(secret)]
    assert types == ["photo.approved", "identify.unknown", "photo.approved", "identity.erased"]


def test_a_delivery_whose_message_was_lost_is_sent_by_the_sweep(receiver, django_capture_on_commit_callbacks):
    sub, secret = subscribe(receiver)
    with django_capture_on_commit_callbacks(execute=False) as sent:  # the broker was down: never sent
        services.emit("photo.approved", {"photo_id": 4, "identity_id": 4}, identity_id=4)
    assert len(sent) == 1
    d = Delivery.objects.get()
    assert services.queue_due() == 0  # its own message may still be on the way
    Delivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=False) as swept:
        assert services.queue_due() == 1
    assert len(swept) == 1
    delivery.deliver(d.pk)  # what the swept message does on the worker
    assert receiver.verified(secret)[0]["data"] == {"photo_id": 4, "identity_id": 4}


def test_a_delivery_runs_once_when_sent_twice(receiver):
    subscribe(receiver)
    services.emit("identify.unknown", {"decision": "unknown"})
    d = Delivery.objects.get()
    delivery.deliver(d.pk)
    assert delivery.deliver(d.pk) == "already delivered"
    assert len(receiver.requests) == 1
