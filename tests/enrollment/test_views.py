"""The identity pages: enrollment, detail, review queue, erasure and the private photo views.

Real database and real LFW photos; these tests use the `db` fixture, so on_commit
callbacks (processing tasks) never run unless a test captures and runs them.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from audit.models import AuditLog
from enrollment import services
from identities import selectors
from identities.models import Consent, EnrollmentImage, Identity, private_storage
from tests.shared_data import lfw_bytes
from tests.users import make_user

pytestmark = pytest.mark.django_db

def lfw_file(person: str = "George_W_Bush", n: int = 1) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{person}_{n:04d}.jpg", lfw_bytes(person, n), content_type="image/jpeg")


def png_bytes(size: int = 160) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 150, 120)).save(buf, format="PNG")
    return buf.getvalue()


def consent_data(**overrides) -> dict:
    data = {"given_by": "self", "given_by_name": "George W Bush", "purpose": "building access",
            "wording_version": "v1", "expires_at": "", "consent_given": "on"}
    data.update(overrides)
    return data


@pytest.fixture
def other_operator(django_user_model):
    return make_user("someone-else", "operator")


def person(name: str = "George W Bush", actor=None, consent: bool = True) -> Identity:
    identity = services.create_identity(display_name=name, actor=actor)
    if consent:
        services.record_consent(identity=identity, given_by_name=name, purpose="building access",
                                wording_version="v1", actor=actor)
    return identity


def photo_awaiting_review(identity: Identity, n: int, person_dir: str = "George_W_Bush", *,
                          duplicate: dict | None = None) -> EnrollmentImage:
    """A photo as the worker leaves it: a crop, quality figures, status awaiting_review."""
    [image] = services.enroll_photos(identity=identity, uploads=[services.Upload(
        name=f"{n}.jpg", data=lfw_bytes(person_dir, n))])
    image.crop.save("crop", ContentFile(png_bytes()), save=False)
    image.status = EnrollmentImage.Status.AWAITING_REVIEW
    image.quality = {"face_px": 112.0, "probability": 0.999, "sharpness": 80.2, "roll_deg": 2.0,
                     "yaw_ratio": 0.05, "face_count": 1.0, "possible_duplicate": duplicate}
    image.save()
    return image


# --- login -----------------------------------------------------------------------


def test_every_page_sends_an_anonymous_visitor_to_the_login_page(client, operator):
    identity = person(actor=operator)
    image = photo_awaiting_review(identity, 1)
    urls = [
        reverse("identities:list"), reverse("identities:create"), reverse("identities:review"),
        reverse("identities:detail", args=[identity.pk]), reverse("identities:erase", args=[identity.pk]),
        reverse("identities:photo_crop", args=[image.pk]), reverse("identities:photo_original", args=[image.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


# --- enrollment --------------------------------------------------------------------


def test_a_new_identity_with_consent_and_photos_is_stored_and_shown(client, operator):
    client.force_login(operator)
    response = client.post(reverse("identities:create"), {
        "display_name": "George W Bush", "external_ref": "EMP-1", "notes": "front desk",
        **consent_data(expires_at="2099-01-01T10:00"),
        "photos": [lfw_file(n=1), lfw_file(n=2)],
    })

    identity = Identity.objects.get(external_ref="EMP-1")
    assert response.status_code == 302
    assert response["Location"] == reverse("identities:detail", args=[identity.pk])
    assert identity.display_name == "George W Bush" and identity.created_by == operator
    consent = identity.consents.get()
    assert consent.given_by_name == "George W Bush" and consent.expires_at.year == 2099
    assert consent.recorded_by == operator
    photos = list(identity.images.all())
    assert len(photos) == 2 and {p.status for p in photos} == {"pending"}
    assert all(private_storage.exists(p.file.name) for p in photos)

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"George W Bush" in page.content and b"2 photos uploaded" in page.content
    assert page.content.count(b"Pending") >= 2


def test_a_new_identity_without_photos_is_fine(client, operator):
    client.force_login(operator)
    response = client.post(reverse("identities:create"), {"display_name": "Ada", **consent_data()})
    assert response.status_code == 302
    identity = Identity.objects.get(display_name="Ada")
    assert identity.consents.count() == 1 and identity.images.count() == 0


def test_without_the_consent_box_ticked_nothing_is_created_and_the_error_is_beside_it(client, operator):
    client.force_login(operator)
    data = consent_data()
    del data["consent_given"]
    response = client.post(reverse("identities:create"), {"display_name": "George W Bush", **data,
                                                          "photos": [lfw_file()]})

    assert response.status_code == 200
    assert response.context["consent_form"].errors["consent_given"] == [
        "Tick this box: enrollment needs the person's consent."]
    assert b"Tick this box" in response.content
    assert not Identity.objects.exists() and not Consent.objects.exists() and not EnrollmentImage.objects.exists()


def test_a_consent_that_already_expired_is_refused_beside_its_field(client, operator):
    client.force_login(operator)
    response = client.post(reverse("identities:create"),
                           {"display_name": "George W Bush", **consent_data(expires_at="2001-01-01T00:00")})
    assert response.status_code == 200
    assert "expires_at" in response.context["consent_form"].errors
    assert not Identity.objects.exists()


def test_a_taken_external_ref_is_refused_beside_its_field(client, operator):
    services.create_identity(display_name="First", external_ref="EMP-7")
    client.force_login(operator)
    response = client.post(reverse("identities:create"),
                           {"display_name": "Second", "external_ref": "EMP-7", **consent_data()})
    assert response.status_code == 200
    assert response.context["identity_form"].errors["external_ref"] == [
        "Another person already has this external reference."]
    assert Identity.objects.count() == 1


def test_a_non_image_upload_stores_no_photo_and_the_error_is_shown_beside_the_upload(client, operator):
    client.force_login(operator)
    text = SimpleUploadedFile("notes.txt", b"this is not a photo", content_type="text/plain")
    response = client.post(reverse("identities:create"), {"display_name": "George W Bush", **consent_data(),
                                                          "photos": [lfw_file(), text]}, follow=True)

    identity = Identity.objects.get()
    assert response.redirect_chain[-1][0] == reverse("identities:detail", args=[identity.pk])
    assert identity.consents.count() == 1  # person and consent stay; the upload is all or nothing
    assert not EnrollmentImage.objects.exists()
    errors = response.context["photos_form"].errors["photos"]
    assert len(errors) == 1 and errors[0].startswith("notes.txt:")
    assert b"No photo was stored" in response.content and b"notes.txt:" in response.content
    # Shown once: a reload of the page no longer carries it.
    assert "photos" not in client.get(reverse("identities:detail", args=[identity.pk])).context["photos_form"].errors


def test_more_photos_can_be_added_on_the_detail_page(client, operator):
    identity = person(actor=operator)
    client.force_login(operator)
    response = client.post(reverse("identities:add_photos", args=[identity.pk]), {"photos": [lfw_file(n=3)]})
    assert response.status_code == 302
    assert identity.images.get().status == "pending"


def test_adding_photos_without_a_valid_consent_says_a_consent_is_needed(client, operator):
    identity = person(actor=operator, consent=False)
    client.force_login(operator)
    response = client.post(reverse("identities:add_photos", args=[identity.pk]), {"photos": [lfw_file()]})
    assert response.status_code == 200
    assert any("needs a valid consent" in e for e in response.context["photos_form"].non_field_errors())
    assert b"enrollment needs a valid consent" in response.content
    assert not EnrollmentImage.objects.exists()


def test_adding_the_same_photo_twice_is_refused_beside_the_upload(client, operator):
    identity = person(actor=operator)
    client.force_login(operator)
    client.post(reverse("identities:add_photos", args=[identity.pk]), {"photos": [lfw_file()]})
    response = client.post(reverse("identities:add_photos", args=[identity.pk]), {"photos": [lfw_file()]})
    assert response.status_code == 200
    assert "already uploaded" in response.context["photos_form"].errors["photos"][0]
    assert identity.images.count() == 1


def test_a_new_consent_is_recorded_on_the_detail_page(client, operator):
    identity = person(actor=operator, consent=False)
    client.force_login(operator)
    response = client.post(reverse("identities:add_consent", args=[identity.pk]), consent_data())
    assert response.status_code == 302
    assert selectors.valid_consent(identity) is not None
    missing_box = {k: v for k, v in consent_data().items() if k != "consent_given"}
    response = client.post(reverse("identities:add_consent", args=[identity.pk]), missing_box)
    assert response.status_code == 200 and "consent_given" in response.context["consent_form"].errors
    assert identity.consents.count() == 1


def test_staff_withdraw_a_consent_and_operators_cannot(client, admin, operator):
    identity = person(actor=operator)
    consent = identity.consents.get()
    client.force_login(operator)
    assert client.post(reverse("identities:withdraw_consent", args=[consent.pk])).status_code == 403
    client.force_login(admin)
    response = client.post(reverse("identities:withdraw_consent", args=[consent.pk]))
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert b"the person is erased from" in client.get(reverse("identities:detail", args=[identity.pk])).content
    again = client.post(reverse("identities:withdraw_consent", args=[consent.pk]), follow=True)
    assert b"already withdrawn" in again.content


# --- list and detail ---------------------------------------------------------------


def test_the_list_shows_counts_searches_and_pages(client, admin, monkeypatch):
    bush = person("George W Bush")
    photo_awaiting_review(bush, 1)
    approved = photo_awaiting_review(bush, 2)
    services.approve_photos(image_ids=[approved.pk])
    person("Ada Lovelace")
    client.force_login(admin)

    response = client.get(reverse("identities:list"))
    rows = {i.display_name: i for i in response.context["page"]}
    assert set(rows) == {"George W Bush", "Ada Lovelace"}
    assert (rows["George W Bush"].photo_count, rows["George W Bush"].approved_count) == (2, 1)

    response = client.get(reverse("identities:list"), {"q": "lovel"})
    assert [i.display_name for i in response.context["page"]] == ["Ada Lovelace"]
    assert b'value="lovel"' in response.content

    monkeypatch.setattr("enrollment.views.PAGE_SIZE", 1)
    first = client.get(reverse("identities:list"))
    second = client.get(reverse("identities:list"), {"page": 2})
    assert [i.display_name for i in first.context["page"]] == ["Ada Lovelace"]
    assert [i.display_name for i in second.context["page"]] == ["George W Bush"]
    assert b"page=2" in first.content and b"Page 1 of 2" in first.content


def test_operators_see_only_the_people_they_enrolled(client, operator, other_operator):
    mine = person("Mine", actor=operator)
    theirs = person("Theirs", actor=other_operator)
    client.force_login(operator)
    response = client.get(reverse("identities:list"))
    assert [i.pk for i in response.context["page"]] == [mine.pk]
    assert client.get(reverse("identities:detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("identities:detail", args=[mine.pk])).status_code == 200
    assert client.post(reverse("identities:add_photos", args=[theirs.pk]),
                       {"photos": [lfw_file()]}).status_code == 404


def test_the_detail_page_shows_photos_figures_duplicates_and_history(client, admin):
    other = person("Someone Else")
    identity = person()
    photo_awaiting_review(identity, 1, duplicate={"identity_id": other.pk, "similarity": 0.81, "threshold": 0.45})
    client.force_login(admin)
    response = client.get(reverse("identities:detail", args=[identity.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert reverse("identities:photo_crop", args=[identity.images.get().pk]) in content
    assert "Possible duplicate" in content and f"person #{other.pk}" in content and "0.81" in content
    assert reverse("identities:detail", args=[other.pk]) in content
    assert "99.9%" in content and "112 px" in content
    assert "identity.create" in content and "consent.record" in content and "photo.upload" in content
    assert "Erase this person" in content


# --- review queue --------------------------------------------------------------------


def test_the_review_queue_is_for_staff_only(client, operator):
    client.force_login(operator)
    assert client.get(reverse("identities:review")).status_code == 403
    assert client.post(reverse("identities:review"), {"action": "approve", "ids": ["1"]}).status_code == 403


def test_the_review_queue_lists_photos_awaiting_review_with_their_crop(client, admin):
    identity = person()
    waiting = photo_awaiting_review(identity, 1)
    [pending] = services.enroll_photos(identity=identity, uploads=[services.Upload("2.jpg", lfw_bytes(n=2))])
    client.force_login(admin)
    response = client.get(reverse("identities:review"))
    content = response.content.decode()
    assert [p.pk for p in response.context["page"]] == [waiting.pk]
    assert f'name="ids" value="{waiting.pk}"' in content and f'value="{pending.pk}"' not in content
    assert reverse("identities:photo_crop", args=[waiting.pk]) in content
    assert "Approve selected" in content and "Reject selected" in content and 'name="reason"' in content


def test_staff_approve_selected_photos_in_bulk(client, admin):
    identity = person()
    first, second, untouched = (photo_awaiting_review(identity, n) for n in (1, 2, 3))
    client.force_login(admin)
    response = client.post(reverse("identities:review"),
                           {"action": "approve", "ids": [str(first.pk), str(second.pk)]}, follow=True)
    assert b"2 photos approved." in response.content
    statuses = dict(EnrollmentImage.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "approved", second.pk: "approved", untouched.pk: "awaiting_review"}
    assert EnrollmentImage.objects.get(pk=first.pk).reviewed_by == admin
    assert AuditLog.objects.filter(action="photo.approve").count() == 2


def test_staff_reject_selected_photos_with_a_reason(client, admin):
    identity = person()
    photo = photo_awaiting_review(identity, 1)
    client.force_login(admin)
    response = client.post(reverse("identities:review"),
                           {"action": "reject", "ids": [str(photo.pk)], "reason": "sunglasses"})
    assert response.status_code == 302
    photo.refresh_from_db()
    assert photo.status == "rejected" and photo.rejection_detail == "sunglasses"
    assert AuditLog.objects.get(action="photo.reject").details["reason"] == "sunglasses"


def test_rejecting_without_a_reason_shows_the_error_beside_it_and_changes_nothing(client, admin):
    identity = person()
    photo = photo_awaiting_review(identity, 1)
    client.force_login(admin)
    response = client.post(reverse("identities:review"), {"action": "reject", "ids": [str(photo.pk)],
                                                          "reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["a rejection needs a reason"]
    assert f'value="{photo.pk}" id="photo-{photo.pk}" checked' in response.content.decode()
    photo.refresh_from_db()
    assert photo.status == "awaiting_review"


def test_reviewing_with_nothing_selected_says_so(client, admin):
    photo_awaiting_review(person(), 1)
    client.force_login(admin)
    response = client.post(reverse("identities:review"), {"action": "approve"})
    assert response.status_code == 200
    assert response.context["form"].errors["ids"] == ["Select at least one photo."]


def test_approving_a_photo_that_was_already_reviewed_is_an_error_not_a_crash(client, admin):
    photo = photo_awaiting_review(person(), 1)
    services.reject_photos(image_ids=[photo.pk], reason="blurry")
    photo_awaiting_review(person("Other"), 2)
    client.force_login(admin)
    response = client.post(reverse("identities:review"), {"action": "approve", "ids": [str(photo.pk)]})
    assert response.status_code == 200
    assert "only awaiting_review photos" in response.context["form"].non_field_errors()[0]


# --- erasure ---------------------------------------------------------------------------


def test_staff_erase_a_person_after_confirming(client, admin, django_capture_on_commit_callbacks):
    identity = person()
    photos = [photo_awaiting_review(identity, n) for n in (1, 2)]
    files = [f.name for p in photos for f in (p.file, p.crop)]
    assert all(private_storage.exists(name) for name in files)
    client.force_login(admin)

    confirm = client.get(reverse("identities:erase", args=[identity.pk]))
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    assert Identity.objects.get(pk=identity.pk).status == "active"  # a GET changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("identities:erase", args=[identity.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("identities:list")
    identity.refresh_from_db()
    assert identity.status == "erased" and identity.display_name == ""
    assert not EnrollmentImage.objects.filter(identity=identity).exists()
    assert not Consent.objects.filter(identity=identity).exists()
    assert not any(private_storage.exists(name) for name in files)
    assert AuditLog.objects.get(action="identity.erase").details == {"photos": 2, "embeddings": 0, "match_scores": 0, "consents": 1}


def test_operators_cannot_erase(client, operator):
    identity = person(actor=operator)
    client.force_login(operator)
    assert client.get(reverse("identities:erase", args=[identity.pk])).status_code == 403
    assert client.post(reverse("identities:erase", args=[identity.pk])).status_code == 403
    assert Identity.objects.get(pk=identity.pk).status == "active"


# --- private photo files ---------------------------------------------------------------


def test_face_crops_and_originals_are_served_only_to_staff_and_the_enrolling_user(
        client, admin, operator, other_operator):
    photo = photo_awaiting_review(person(actor=operator), 1)
    crop_url = reverse("identities:photo_crop", args=[photo.pk])
    original_url = reverse("identities:photo_original", args=[photo.pk])

    for user in (admin, operator):
        client.force_login(user)
        crop = client.get(crop_url)
        assert crop.status_code == 200 and crop["Content-Type"] == "image/png"
        assert crop["Cache-Control"] == "private, no-store"
        assert b"".join(crop.streaming_content) == png_bytes()
        original = client.get(original_url)
        assert original.status_code == 200 and original["Content-Type"] == "image/jpeg"
        assert original["Cache-Control"] == "private, no-store"
        assert b"".join(original.streaming_content) == lfw_bytes(n=1)

    client.force_login(other_operator)
    assert client.get(crop_url).status_code == 404
    assert client.get(original_url).status_code == 404

    client.logout()
    assert client.get(crop_url).status_code == 302


def test_a_photo_without_a_crop_yet_has_no_crop_to_serve(client, admin):
    [pending] = services.enroll_photos(identity=person(), uploads=[services.Upload("1.jpg", lfw_bytes())])
    client.force_login(admin)
    assert client.get(reverse("identities:photo_crop", args=[pending.pk])).status_code == 404
    assert client.get(reverse("identities:photo_crop", args=[999999])).status_code == 404
