"""Django admin: review actions go through the services; the audit log is view-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from audit.models import AuditLog
from enrollment import services
from identities.models import EnrollmentImage, Identity
from tests.shared_data import LFW_IMAGES

pytestmark = pytest.mark.django_db


def photos_awaiting_review(count: int) -> list[EnrollmentImage]:
    identity = services.create_identity(display_name="George W Bush")
    services.record_consent(identity=identity, given_by_name="George W Bush", purpose="building access",
                            wording_version="v1")
    uploads = [services.Upload(name=f"{n}.jpg", data=(LFW_IMAGES / "George_W_Bush" / f"George_W_Bush_{n:04d}.jpg")
                               .read_bytes()) for n in range(1, count + 1)]
    images = services.enroll_photos(identity=identity, uploads=uploads)
    EnrollmentImage.objects.filter(pk__in=[i.pk for i in images]).update(status="awaiting_review")
    return images


def run_action(admin_client, action: str, images) -> None:
    response = admin_client.post(reverse("admin:identities_enrollmentimage_changelist"),
                                 {"action": action, "_selected_action": [str(i.pk) for i in images]})
    assert response.status_code == 302


def test_the_approve_action_approves_through_the_service(admin_client, admin_user):
    first, second, untouched = photos_awaiting_review(3)
    run_action(admin_client, "approve_selected", [first, second])
    statuses = dict(EnrollmentImage.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "approved", second.pk: "approved", untouched.pk: "awaiting_review"}
    assert set(AuditLog.objects.filter(action="photo.approve").values_list("actor_id", flat=True)) == {admin_user.pk}


def test_the_reject_action_rejects_with_a_fixed_reason(admin_client):
    [photo] = photos_awaiting_review(1)
    run_action(admin_client, "reject_selected", [photo])
    photo.refresh_from_db()
    assert photo.status == "rejected" and photo.rejection_detail == "rejected in admin"
    assert AuditLog.objects.get(action="photo.reject").details["reason"] == "rejected in admin"


def test_an_action_on_photos_in_the_wrong_state_reports_an_error_and_changes_nothing(admin_client):
    waiting, pending = photos_awaiting_review(2)
    EnrollmentImage.objects.filter(pk=pending.pk).update(status="pending")
    response = admin_client.post(reverse("admin:identities_enrollmentimage_changelist"),
                                 {"action": "approve_selected", "_selected_action": [waiting.pk, pending.pk]},
                                 follow=True)
    assert b"Nothing approved" in response.content
    assert EnrollmentImage.objects.get(pk=waiting.pk).status == "awaiting_review"


def test_photo_status_is_read_only_and_photos_cannot_be_deleted_in_admin(admin_client):
    [photo] = photos_awaiting_review(1)
    change_url = reverse("admin:identities_enrollmentimage_change", args=[photo.pk])
    assert admin_client.get(change_url).status_code == 200
    admin_client.post(change_url, {"status": "approved"})
    assert EnrollmentImage.objects.get(pk=photo.pk).status == "awaiting_review"
    assert admin_client.get(reverse("admin:identities_enrollmentimage_delete", args=[photo.pk])).status_code == 403


def test_editing_an_identity_in_admin_goes_through_the_service_and_is_audited(admin_client):
    identity = services.create_identity(display_name="Old Name")
    response = admin_client.post(reverse("admin:identities_identity_change", args=[identity.pk]), {
        "display_name": "New Name", "external_ref": "", "notes": "",
        "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0", "consents-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302
    assert Identity.objects.get(pk=identity.pk).display_name == "New Name"
    assert AuditLog.objects.get(action="identity.update").details == {"fields": ["display_name"]}


def test_the_audit_log_admin_is_view_only(admin_client, admin_user):
    services.create_identity(display_name="Someone")
    entry = AuditLog.objects.get()
    model_admin = admin.site._registry[AuditLog]
    request = RequestFactory().get("/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert model_admin.has_view_permission(request, entry)
    assert model_admin.get_actions(request) == {}

    changelist = admin_client.get(reverse("admin:audit_auditlog_changelist"))
    assert changelist.status_code == 200 and b"identity.create" in changelist.content
    assert b"delete_selected" not in changelist.content
    assert admin_client.get(reverse("admin:audit_auditlog_add")).status_code == 403
    assert admin_client.get(reverse("admin:audit_auditlog_delete", args=[entry.pk])).status_code == 403
    admin_client.post(reverse("admin:audit_auditlog_change", args=[entry.pk]), {"action": "tampered"})
    assert AuditLog.objects.get(pk=entry.pk).action == "identity.create"
