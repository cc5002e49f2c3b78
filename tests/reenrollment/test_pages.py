"""The re-enrollment pages under /reenrollment/: staff only, filters, dismissing, and the identity page's list.

Real database, `db` fixture: requests are rows made here (or by raise_request), no worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from enrollment import services as identity_services
from identities.models import EnrollmentImage, Identity
from reenrollment import services
from reenrollment.models import ReenrollmentRequest
from tests.shared_data import LFW_IMAGES

pytestmark = pytest.mark.django_db

LIST = reverse("reenrollment:list")
DRIFT = {"baseline": 0.7213, "recent_median": 0.5102, "drop": 0.2111, "window": 10, "margin": 0.15,
         "drifted": True}


def person(name: str = "Ada Lovelace", actor=None, **kwargs) -> Identity:
    identity = identity_services.create_identity(display_name=name, actor=actor, **kwargs)
    identity_services.record_consent(identity=identity, given_by_name=name, purpose="building access",
                                     wording_version="v1", actor=actor)
    return identity


def reenrollment_request(identity: Identity, reason: str = "drift", *, status: str = "open", details=None,
                         age_days: int = 0, **fields) -> ReenrollmentRequest:
    created = timezone.now() - timedelta(days=age_days)
    return ReenrollmentRequest.objects.create(
        identity=identity, reason=reason, status=status, created_at=created, due_at=created + timedelta(days=30),
        details=DRIFT if details is None and reason == "drift" else (details or {}), **fields)


def shown_ids(response) -> list[int]:
    return [row.pk for row in response.context["page"].object_list]


# --- who may see it ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, admin):
    request = reenrollment_request(person())
    for response in (client.get(LIST), client.post(reverse("reenrollment:dismiss", args=[request.pk]))):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert ReenrollmentRequest.objects.get().status == "open"


def test_non_staff_users_are_refused(client, operator):
    request = reenrollment_request(person(actor=operator))
    client.force_login(operator)
    assert client.get(LIST).status_code == 403
    assert client.post(reverse("reenrollment:dismiss", args=[request.pk])).status_code == 403
    assert ReenrollmentRequest.objects.get().status == "open"
    assert not AuditLog.objects.filter(action="reenrollment.dismiss").exists()
    assert b"Re-enrollment</a>" not in client.get(reverse("identities:list")).content


def test_staff_see_the_list_and_a_link_to_it_in_the_navigation(client, admin):
    client.force_login(admin)
    response = client.get(LIST)
    assert response.status_code == 200
    assert f'href="{LIST}">Re-enrollment</a>'.encode() in response.content


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_open_requests_by_default_with_their_figures(client, admin):
    ada = person("Ada Lovelace", contact_email="ada@example.org")
    grace = person("Grace Hopper")
    drift = reenrollment_request(ada, "drift")
    few = reenrollment_request(grace, "too_few_photos", details={"active_photos": 1, "minimum": 2}, age_days=1)
    old = reenrollment_request(grace, "template_age", details={"newest_template_at": "2023-01-01T00:00:00+00:00",
                                                              "age_days": 800, "max_age_days": 730}, age_days=2,
                               notified_at=timezone.now())
    reenrollment_request(ada, "too_few_photos", status="dismissed", closed_at=timezone.now())
    client.force_login(admin)

    response = client.get(LIST)
    assert shown_ids(response) == [drift.pk, few.pk, old.pk]  # newest first
    page = response.content.decode()
    assert "baseline 0.72 → recent 0.51 (window 10)" in page
    assert "1 active photo (minimum 2)" in page and "newest template 800 days old (maximum 730)" in page
    assert f'href="{reverse("identities:detail", args=[ada.pk])}">Ada Lovelace</a>' in page
    assert "no contact email" in page and "not yet" in page  # Grace has no address; Ada's mail is pending
    assert page.count(">Dismiss</button>") == 3


def test_the_list_filters_by_status_reason_and_identity(client, admin):
    ada, grace = person("Ada Lovelace"), person("Grace Hopper")
    ada_drift = reenrollment_request(ada, "drift")
    grace_drift = reenrollment_request(grace, "drift", age_days=1)
    grace_few = reenrollment_request(grace, "too_few_photos", age_days=2)
    dismissed = reenrollment_request(ada, "template_age", status="dismissed", age_days=3)
    expired = reenrollment_request(grace, "template_age", status="expired", age_days=4)
    client.force_login(admin)

    assert shown_ids(client.get(LIST, {"status": "dismissed"})) == [dismissed.pk]
    assert shown_ids(client.get(LIST, {"status": ""})) == [ada_drift.pk, grace_drift.pk, grace_few.pk,
                                                           dismissed.pk, expired.pk]
    assert shown_ids(client.get(LIST, {"reason": "drift"})) == [ada_drift.pk, grace_drift.pk]
    assert shown_ids(client.get(LIST, {"identity": grace.pk})) == [grace_drift.pk, grace_few.pk]
    assert shown_ids(client.get(LIST, {"status": "", "identity": grace.pk, "reason": "template_age"})) == [expired.pk]


def test_an_invalid_filter_is_shown_beside_its_field_and_left_out(client, admin):
    request = reenrollment_request(person())
    client.force_login(admin)
    response = client.get(LIST, {"identity": "abc", "status": "lost"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form["identity"].errors and form["status"].errors
    assert shown_ids(response) == [request.pk]  # status and identity ignored: everything is listed
    assert "field-error" in response.content.decode()


def test_the_list_is_paginated_keeping_its_filters(client, admin):
    people = [person(f"Person {i}") for i in range(26)]
    for i, identity in enumerate(people):
        reenrollment_request(identity, "drift", age_days=i)
    reenrollment_request(people[0], "too_few_photos", age_days=30)
    client.force_login(admin)
    first = client.get(LIST, {"reason": "drift"})
    assert len(shown_ids(first)) == 25 and first.context["page"].has_next()
    assert "?reason=drift&amp;page=2" in first.content.decode()
    second = client.get(LIST, {"reason": "drift", "page": 2})
    assert [r.identity_id for r in second.context["page"].object_list] == [people[25].pk]


# --- dismissing ----------------------------------------------------------------------------


def test_staff_dismiss_an_open_request_with_a_note(client, admin):
    identity = person()
    request = services.raise_request(identity=identity, reason="drift", details=DRIFT)
    client.force_login(admin)
    back = f"{LIST}?reason=drift"
    response = client.post(reverse("reenrollment:dismiss", args=[request.pk]),
                           {"note": "photos renewed on paper", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    request.refresh_from_db()
    assert request.status == "dismissed" and request.closed_by == admin
    assert request.close_note == "photos renewed on paper" and request.closed_at is not None
    entry = AuditLog.objects.get(action="reenrollment.dismiss")
    assert entry.actor == admin and entry.target_id == str(request.pk)
    assert entry.details == {"identity_id": identity.pk, "reason": "drift"}
    assert f"Request #{request.pk} was dismissed." in client.get(back).content.decode()


def test_dismissing_twice_or_an_unknown_request_says_why_without_changing_anything(client, admin):
    request = reenrollment_request(person())
    client.force_login(admin)
    client.post(reverse("reenrollment:dismiss", args=[request.pk]), {"note": "first"})
    again = client.post(reverse("reenrollment:dismiss", args=[request.pk]), {"note": "second"}, follow=True)
    assert again.status_code == 200
    assert f"Request #{request.pk} was not dismissed" in again.content.decode()
    assert "only an open one can be dismissed" in again.content.decode()
    request.refresh_from_db()
    assert request.close_note == "first"
    assert AuditLog.objects.filter(action="reenrollment.dismiss").count() == 1

    unknown = client.post(reverse("reenrollment:dismiss", args=[999999]), follow=True)
    assert unknown.status_code == 200 and "no re-enrollment request #999999" in unknown.content.decode()


def test_dismiss_goes_back_only_to_a_page_of_this_site(client, admin):
    request = reenrollment_request(person())
    client.force_login(admin)
    response = client.post(reverse("reenrollment:dismiss", args=[request.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == LIST


def test_only_post_dismisses(client, admin):
    request = reenrollment_request(person())
    client.force_login(admin)
    assert client.get(reverse("reenrollment:dismiss", args=[request.pk])).status_code == 405
    assert ReenrollmentRequest.objects.get().status == "open"


# --- the identity page ---------------------------------------------------------------------


def test_the_identity_page_shows_staff_its_open_requests_with_a_dismiss_button(client, admin):
    identity = person()
    open_request = reenrollment_request(identity, "drift")
    reenrollment_request(identity, "too_few_photos", status="fulfilled")
    reenrollment_request(person("Grace Hopper"), "template_age")
    client.force_login(admin)
    url = reverse("identities:detail", args=[identity.pk])
    response = client.get(url)
    assert [r.pk for r in response.context["reenrollment_requests"]] == [open_request.pk]
    page = response.content.decode()
    assert 'id="reenrollment"' in page and "baseline 0.72 → recent 0.51 (window 10)" in page
    assert reverse("reenrollment:dismiss", args=[open_request.pk]) in page

    back = client.post(reverse("reenrollment:dismiss", args=[open_request.pk]), {"next": url})
    assert back["Location"] == url
    assert 'id="reenrollment"' not in client.get(url).content.decode()


def test_the_identity_page_hides_requests_from_non_staff(client, operator):
    identity = person(actor=operator)
    reenrollment_request(identity, "drift")
    client.force_login(operator)
    response = client.get(reverse("identities:detail", args=[identity.pk]))
    assert response.status_code == 200 and 'id="reenrollment"' not in response.content.decode()


def test_a_retired_photo_is_shown_as_retired_and_is_not_in_the_review_queue(client, admin):
    identity = person()
    [photo] = identity_services.enroll_photos(identity=identity, uploads=[identity_services.Upload(
        name="ada.jpg", data=(LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0001.jpg").read_bytes())])
    EnrollmentImage.objects.filter(pk=photo.pk).update(status=EnrollmentImage.Status.RETIRED)
    client.force_login(admin)
    page = client.get(reverse("identities:detail", args=[identity.pk])).content.decode()
    assert 'class="badge status-retired">Retired</span>' in page
    assert "no longer used for recognition" in page
    assert client.get(reverse("identities:review")).context["page"].paginator.count == 0

