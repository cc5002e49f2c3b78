"""The re-enrollment API under /api/v1/reenrollment-requests/: staff only, filters, dismiss, schema,
and the effective policy in the identity API.

Real database, `db` fixture; requests are rows made by tests.reenrollment.test_pages helpers.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditLog
from enrollment import services as identity_services
from reenrollment.models import IdentityPolicy, ReenrollmentRequest
from tests.api_helpers import api_client, assert_error
from tests.reenrollment.test_pages import DRIFT, person, reenrollment_request
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

API = "/api/v1"
FIELDS = {"id", "identity_id", "identity_name", "reason", "status", "details", "created_at", "due_at", "notified_at",
          "closed_at", "closed_by", "close_note"}


def endpoints(request_id: int) -> list[tuple[str, str, dict | None]]:
    return [("get", f"{API}/reenrollment-requests/", None),
            ("get", f"{API}/reenrollment-requests/{request_id}/", None),
            ("post", f"{API}/reenrollment-requests/{request_id}/dismiss", {"note": "x"})]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- who may call it -----------------------------------------------------------------------


def test_anonymous_calls_are_refused_with_401():
    request = reenrollment_request(person())
    for method, url, data in endpoints(request.pk):
        response = getattr(APIClient(), method)(url, data, format="json")
        assert_error(response, 401, "not_authenticated")
    assert ReenrollmentRequest.objects.get().status == "open"


def test_non_staff_are_refused_with_403_even_for_people_they_enrolled(operator):
    request = reenrollment_request(person(actor=operator))
    user_client = api_client(operator)
    for method, url, data in endpoints(request.pk):
        assert_error(getattr(user_client, method)(url, data, format="json"), 403, "permission_denied")
    assert ReenrollmentRequest.objects.get().status == "open"


def test_staff_authenticate_with_a_token(admin):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(admin)}")
    assert client.get(f"{API}/reenrollment-requests/").status_code == 200


# --- list and detail -----------------------------------------------------------------------


def test_the_list_answers_every_request_newest_first_with_its_fields(admin_api, admin):
    ada = person("Ada Lovelace")
    drift = reenrollment_request(ada, "drift", notified_at=timezone.now())
    closed = reenrollment_request(ada, "too_few_photos", status="dismissed", age_days=1, closed_by=admin,
                                  closed_at=timezone.now(), close_note="not needed",
                                  details={"active_photos": 1, "minimum": 2})
    body = admin_api.get(f"{API}/reenrollment-requests/").json()
    assert body["count"] == 2 and [r["id"] for r in body["results"]] == [drift.pk, closed.pk]
    first, second = body["results"]
    assert set(first) == FIELDS
    assert first["identity_id"] == ada.pk and first["identity_name"] == "Ada Lovelace"
    assert first["reason"] == "drift" and first["status"] == "open" and first["details"] == DRIFT
    assert first["notified_at"] and first["closed_at"] is None and first["closed_by"] is None
    assert first["due_at"] > first["created_at"]
    assert second["closed_by"] == "coordinator" and second["close_note"] == "not needed"


def test_the_list_filters_by_status_reason_and_identity(admin_api):
    ada, grace = person("Ada Lovelace"), person("Grace Hopper")
    ada_drift = reenrollment_request(ada, "drift")
    grace_few = reenrollment_request(grace, "too_few_photos", age_days=1)
    expired = reenrollment_request(grace, "drift", status="expired", age_days=2)
    url = f"{API}/reenrollment-requests/"
    assert ids(admin_api.get(url, {"status": "open"})) == [ada_drift.pk, grace_few.pk]
    assert ids(admin_api.get(url, {"status": "expired"})) == [expired.pk]
    assert ids(admin_api.get(url, {"reason": "drift"})) == [ada_drift.pk, expired.pk]
    assert ids(admin_api.get(url, {"identity": grace.pk})) == [grace_few.pk, expired.pk]
    assert ids(admin_api.get(url, {"identity": grace.pk, "reason": "drift", "status": "open"})) == []


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "lost"}, "status"), ({"reason": "bored"}, "reason"), ({"identity": "ada"}, "identity"),
    ({"identity": 0}, "identity"),
])
def test_an_invalid_filter_is_a_400_naming_it(admin_api, params, field):
    error = assert_error(admin_api.get(f"{API}/reenrollment-requests/", params), 400, "invalid")
    assert list(error["fields"]) == [field]


def test_the_list_is_paginated(admin_api):
    for i in range(3):
        reenrollment_request(person(f"Person {i}"), age_days=i)
    body = admin_api.get(f"{API}/reenrollment-requests/", {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert len(admin_api.get(body["next"]).json()["results"]) == 1


def test_the_detail_answers_one_request_and_404_for_an_unknown_one(admin_api):
    request = reenrollment_request(person())
    body = admin_api.get(f"{API}/reenrollment-requests/{request.pk}/").json()
    assert body["id"] == request.pk and set(body) == FIELDS
    assert_error(admin_api.get(f"{API}/reenrollment-requests/999999/"), 404, "not_found")


def test_an_erased_persons_requests_are_gone(admin_api, admin):
    identity = person()
    request = reenrollment_request(identity)
    identity_services.erase_identity(identity=identity, actor=admin)
    assert admin_api.get(f"{API}/reenrollment-requests/{request.pk}/").status_code == 404


# --- dismiss -------------------------------------------------------------------------------


def test_staff_dismiss_an_open_request_once(admin_api, admin):
    identity = person()
    request = reenrollment_request(identity, "drift")
    response = admin_api.post(f"{API}/reenrollment-requests/{request.pk}/dismiss", {"note": "moved away"},
                              format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == request.pk and body["status"] == "dismissed" and body["closed_at"]
    assert body["closed_by"] == "coordinator" and body["close_note"] == "moved away"
    entry = AuditLog.objects.get(action="reenrollment.dismiss")
    assert entry.actor == admin and entry.target_id == str(request.pk)
    assert entry.details == {"identity_id": identity.pk, "reason": "drift"}

    again = admin_api.post(f"{API}/reenrollment-requests/{request.pk}/dismiss/", {}, format="json")
    assert_error(again, 409, "invalid_transition")
    assert ReenrollmentRequest.objects.get().close_note == "moved away"
    assert AuditLog.objects.filter(action="reenrollment.dismiss").count() == 1


def test_dismiss_without_a_body_leaves_no_note(admin_api):
    request = reenrollment_request(person())
    response = admin_api.post(f"{API}/reenrollment-requests/{request.pk}/dismiss")
    assert response.status_code == 200 and response.json()["close_note"] == ""


def test_dismissing_an_unknown_request_is_404_and_a_long_note_400(admin_api):
    assert_error(admin_api.post(f"{API}/reenrollment-requests/999999/dismiss", {}, format="json"), 404,
                 "not_found")
    request = reenrollment_request(person())
    error = assert_error(admin_api.post(f"{API}/reenrollment-requests/{request.pk}/dismiss",
                                        {"note": "x" * 1001}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["note"]
    assert ReenrollmentRequest.objects.get().status == "open"


# --- the effective policy in the identity API ----------------------------------------------


def test_the_identity_detail_carries_the_effective_reenrollment_policy(admin_api):
    identity = person()
    url = f"{API}/identities/{identity.pk}/"
    assert admin_api.get(url).json()["reenrollment_policy"] == {
        "max_template_age_days": settings.FACEREC_REENROLL_MAX_TEMPLATE_AGE_DAYS,
        "min_active_photos": settings.FACEREC_REENROLL_MIN_ACTIVE_PHOTOS,
        "max_active_photos": settings.FACEREC_REENROLL_MAX_ACTIVE_PHOTOS,
        "drift_margin": settings.FACEREC_DRIFT_MARGIN, "drift_window": settings.FACEREC_DRIFT_WINDOW}
    IdentityPolicy.objects.create(identity=identity, min_active_photos=4, drift_margin=0.05)
    policy = admin_api.patch(url, {"notes": "x"}, format="json").json()["reenrollment_policy"]
    assert policy["min_active_photos"] == 4 and policy["drift_margin"] == 0.05
    assert policy["max_active_photos"] == settings.FACEREC_REENROLL_MAX_ACTIVE_PHOTOS
    assert "reenrollment_policy" not in admin_api.get(f"{API}/identities/").json()["results"][0]


def test_the_schema_documents_the_reenrollment_api(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert {"/api/v1/reenrollment-requests/", "/api/v1/reenrollment-requests/{request_id}/",
            "/api/v1/reenrollment-requests/{request_id}/dismiss"} <= set(paths)
    assert "/api/v1/reenrollment-requests/{request_id}/dismiss/" not in paths
    components = schema["components"]["schemas"]
    assert set(components["ReenrollmentRequest"]["properties"]) == FIELDS
    assert components["ReenrollmentStatusEnum"]["enum"] == ["open", "fulfilled", "dismissed", "expired"]
    assert "reenrollment_policy" in components["IdentityDetail"]["properties"]
