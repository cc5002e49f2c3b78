"""Old events go, with their deliveries and attempt log (the daily job `delete-old-webhook-events`);
an event still waiting to be sent (its subscription paused) stays, so nothing undelivered is lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.webhooks.test_delivery import send_all, subscribe
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, Event, Subscription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


def aged(event: Event, days: float) -> Event:
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - dt.timedelta(days=days))
    return event


def test_events_past_the_retention_go_with_their_deliveries_and_attempts(receiver, settings):
    settings.FACEREC_WEBHOOK_EVENT_DAYS = 30
    subscribe(receiver, event_types=["identify.unknown"])
    old = services.emit("identify.unknown", {"decision": "unknown"})
    recent = services.emit("identify.unknown", {"decision": "unknown"})
    send_all()
    aged(old, 31)
    aged(recent, 29)
    paused, _ = subscribe(receiver, event_types=["photo.approved"])
    Subscription.objects.filter(pk=paused.pk).update(paused_at=timezone.now(), pause_reason="test")
    waiting = aged(services.emit("photo.approved", {"photo_id": 1, "identity_id": 2}, identity_id=2), 40)
    assert DeliveryAttempt.objects.filter(delivery__event=old).count() == 1

    assert services.delete_old_events() == 1

    assert set(Event.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not Delivery.objects.filter(event_id=old.pk).exists()
    assert not DeliveryAttempt.objects.filter(delivery__event_id=old.pk).exists()
    assert Delivery.objects.get(event=waiting).status == "pending"  # sent when the subscription resumes
    assert services.delete_old_events() == 0
