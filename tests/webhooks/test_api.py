"""/api/v1/webhooks/ and the /webhooks/ page: admins only; the secret is shown once."""

from __future__ import annotations

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from audit.models import AuditLog
from webhooks import delivery, services
from webhooks.models import Delivery, Subscription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


def test_an_admin_creates_a_subscription_and_sees_its_secret_once(admin_api, receiver):
    answer = admin_api.post("/api/v1/webhooks/", {"url": receiver.url, "event_types": ["identify.unknown"]},
                            format="json")
    assert answer.status_code == 201, answer.content
    secret = answer.json()["secret"]
    assert secret.startswith("whsec_") and answer["Cache-Control"] == "no-store"
    sub_id = answer.json()["id"]
    for url in ("/api/v1/webhooks/", f"/api/v1/webhooks/{sub_id}/"):
        assert secret not in admin_api.get(url).content.decode()
    services.emit("identify.unknown", {"decision": "unknown"})
    delivery.deliver(Delivery.objects.get().pk)
    Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    deliveries = admin_api.get(f"/api/v1/webhooks/{sub_id}/deliveries/").json()["results"]
    assert deliveries[0]["status"] == "delivered" and deliveries[0]["attempt_log"][0]["status_code"] == 200


def test_a_private_target_is_a_400_naming_the_url(admin_api, settings):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = []
    answer = admin_api.post("/api/v1/webhooks/", {"url": "http://169.254.169.254/", "event_types": ["photo.approved"]},
                            format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "webhook_target_refused"


def test_rotate_resume_replay_update_and_delete(admin_api, receiver):
    sub, _ = services.create_subscription(url=receiver.url, event_types=["photo.approved"])
    rotated = admin_api.post(f"/api/v1/webhooks/{sub.pk}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
    Subscription.objects.filter(pk=sub.pk).update(paused_at="2026-01-01T00:00:00Z", pause_reason="x")
    resumed = admin_api.post(f"/api/v1/webhooks/{sub.pk}/resume/").json()
    assert resumed["paused_at"] is None
    services.emit("photo.approved", {"photo_id": 1})
    original = Delivery.objects.get()
    replayed = admin_api.post(f"/api/v1/webhooks/{sub.pk}/deliveries/{original.pk}/replay/")
    assert replayed.status_code == 202 and Delivery.objects.count() == 2
    changed = admin_api.patch(f"/api/v1/webhooks/{sub.pk}/", {"include_names": True}, format="json")
    assert changed.status_code == 200 and changed.json()["include_names"] is True
    assert AuditLog.objects.filter(action="webhook.update", details__include_names=True).exists()
    assert admin_api.delete(f"/api/v1/webhooks/{sub.pk}/").status_code == 204
    assert not Subscription.objects.exists()


def test_operators_may_not_manage_webhooks(operator_api, receiver):
    assert operator_api.get("/api/v1/webhooks/").status_code == 403
    assert operator_api.post("/api/v1/webhooks/", {"url": receiver.url, "event_types": ["photo.approved"]},
                             format="json").status_code == 403


def test_the_page_creates_shows_the_secret_once_and_lists_the_pause_reason(admin, receiver):
    client = Client()
    client.force_login(admin)
    created = client.post("/webhooks/new/", {"url": receiver.url, "event_types": ["photo.approved"],
                                             "enabled": "on"})
    assert created.status_code == 200 and b"whsec_" in created.content
    sub = Subscription.objects.get()
    Subscription.objects.filter(pk=sub.pk).update(paused_at="2026-01-01T00:00:00Z",
                                                  pause_reason="20 consecutive failed deliveries; last: HTTP 500")
    listing = client.get("/webhooks/").content.decode()
    assert "20 consecutive failed deliveries" in listing and "whsec_" not in listing
    assert client.get(f"/webhooks/{sub.pk}/").status_code == 200
    assert client.post(f"/webhooks/{sub.pk}/resume/").status_code == 302
    assert Subscription.objects.get().paused_at is None
