"""The REST API under /api/v1/: people, consent, photos, review, errors, schema."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from audit.models import AuditLog
from enrollment import services
from identities import services as identity_services
from identities.models import Consent, EnrollmentImage, Identity, private_storage
from tests.api_helpers import api_client
from tests.shared_data import LFW_IMAGES
from tests.tokens import token_for
from tests.users import PASSWORD, make_user

pytestmark = pytest.mark.django_db

API = "/api/v1"


def lfw(person: str, n: int) -> Path:
    return LFW_IMAGES / person / f"{person}_{n:04d}.jpg"


def upload_file(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="image/jpeg")


def make_person(name: str = "George W Bush", *, actor=None, consent: bool = True) -> Identity:
    identity = services.create_identity(display_name=name, actor=actor)
    if consent:
        services.record_consent(identity=identity, given_by_name=name, purpose="building access",
                                wording_version="v1", actor=actor)
    return identity


def post_photos(client: APIClient, identity_id: int, *files):
    return client.post(f"{API}/identities/{identity_id}/photos/", {"photos": list(files)}, format="multipart")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


# --- identities -----------------------------------------------------------------------------


def test_staff_creates_reads_updates_and_lists_identities(admin_api, admin):
    created = admin_api.post(f"{API}/identities/", {"display_name": "Ada Lovelace", "external_ref": "HR-1"},
                             format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["display_name"] == "Ada Lovelace" and body["status"] == "active"
    assert body["created_by"] == admin.username and body["photo_count"] == 0
    identity_id = body["id"]

    patched = admin_api.patch(f"{API}/identities/{identity_id}/", {"notes": "front desk"}, format="json")
    assert patched.status_code == 200 and patched.json()["notes"] == "front desk"
    assert admin_api.get(f"{API}/identities/{identity_id}/").json()["notes"] == "front desk"
    assert Identity.objects.get(pk=identity_id).notes == "front desk"

    make_person("Grace Hopper", actor=admin)
    listing = admin_api.get(f"{API}/identities/").json()
    assert listing["count"] == 2 and [i["display_name"] for i in listing["results"]] == ["Ada Lovelace",
                                                                                         "Grace Hopper"]
    assert AuditLog.objects.filter(action="identity.update", target_id=str(identity_id)).count() == 1


def test_identity_list_filters_by_search_and_status(admin_api, admin):
    make_person("Ada Lovelace", actor=admin)
    grace = services.create_identity(display_name="Grace Hopper", external_ref="NAVY-7", actor=admin)
    erased = make_person("Alan Turing", actor=admin)
    services.erase_identity(identity=erased, actor=admin)

    by_ref = admin_api.get(f"{API}/identities/", {"search": "navy"}).json()
    assert [i["id"] for i in by_ref["results"]] == [grace.pk]
    by_name = admin_api.get(f"{API}/identities/", {"search": "LOVE"}).json()
    assert [i["display_name"] for i in by_name["results"]] == ["Ada Lovelace"]
    only_erased = admin_api.get(f"{API}/identities/", {"status": "erased"}).json()
    assert [(i["id"], i["display_name"]) for i in only_erased["results"]] == [(erased.pk, None)]
    assert_error(admin_api.get(f"{API}/identities/", {"status": "sleeping"}), 400, "invalid")


def test_duplicate_external_ref_is_refused_with_the_field(admin_api):
    admin_api.post(f"{API}/identities/", {"display_name": "A", "external_ref": "X-1"}, format="json")
    error = assert_error(admin_api.post(f"{API}/identities/", {"display_name": "B", "external_ref": "X-1"},
                                        format="json"), 400, "invalid")
    assert "external_ref" in error["fields"]
    assert Identity.objects.count() == 1


def test_an_identity_keeps_its_own_external_ref_on_update(admin_api, admin):
    ada = services.create_identity(display_name="Ada", external_ref="X-1", actor=admin)
    services.create_identity(display_name="Grace", external_ref="X-2", actor=admin)
    same = admin_api.patch(f"{API}/identities/{ada.pk}/", {"external_ref": "X-1", "display_name": "Ada L"},
                           format="json")
    assert same.status_code == 200 and same.json()["display_name"] == "Ada L"
    error = assert_error(admin_api.patch(f"{API}/identities/{ada.pk}/", {"external_ref": "X-2"}, format="json"),
                         400, "invalid")
    assert "external_ref" in error["fields"]
    cleared = admin_api.patch(f"{API}/identities/{ada.pk}/", {"external_ref": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["external_ref"] is None


def test_a_unique_constraint_race_is_a_409_not_a_500(admin_api, monkeypatch):
    def racing(**kwargs):  # another request created the same external_ref after the input checks
        Identity.objects.create(display_name="first", external_ref="R-1")
        return Identity.objects.create(display_name="second", external_ref="R-1")

    monkeypatch.setattr(identity_services, "create_identity", racing)
    assert_error(admin_api.post(f"{API}/identities/", {"display_name": "X"}, format="json"), 409, "conflict")


def test_missing_display_name_is_a_field_error(admin_api):
    error = assert_error(admin_api.post(f"{API}/identities/", {}, format="json"), 400, "invalid")
    assert error["fields"] == {"display_name": ["This field is required."]}


def test_delete_erases_the_identity_and_answers_the_counts(admin_api, admin,
                                                         django_capture_on_commit_callbacks):
    bush = make_person(actor=admin)
    post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1)))
    stored = EnrollmentImage.objects.get(identity=bush).file.name
    assert private_storage.exists(stored)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.delete(f"{API}/identities/{bush.pk}/")

    assert response.status_code == 200, response.content
    assert response.json() == {"id": bush.pk, "status": "erased",
                               "deleted": {"photos": 1, "embeddings": 0, "match_scores": 0, "consents": 1}}
    shown = admin_api.get(f"{API}/identities/{bush.pk}/").json()
    assert shown["status"] == "erased" and shown["display_name"] is None and shown["photo_count"] == 0
    assert not EnrollmentImage.objects.filter(identity=bush).exists()
    assert AuditLog.objects.filter(action="identity.erase", target_id=str(bush.pk)).count() == 1
    assert not private_storage.exists(stored)
    # Erased: no new consent, no update.
    assert_error(admin_api.post(f"{API}/identities/{bush.pk}/consents/",
                                {"given_by_name": "x", "purpose": "p", "wording_version": "v1"}, format="json"),
                 410, "identity_erased")
    assert_error(admin_api.patch(f"{API}/identities/{bush.pk}/", {"notes": "x"}, format="json"),
                 410, "identity_erased")
    # Erasing again is answered as the schema says: 200, erased, nothing left to delete, nothing audited.
    again = admin_api.delete(f"{API}/identities/{bush.pk}/")
    assert again.status_code == 200 and again.json()["status"] == "erased"
    assert set(again.json()["deleted"].values()) == {0}
    assert AuditLog.objects.filter(action="identity.erase", target_id=str(bush.pk)).count() == 1
    assert admin_api.get(f"{API}/identities/{bush.pk}/consents/").json()["results"] == []


def test_an_operator_enrolls_and_edits_their_own_people_but_cannot_erase(operator_api, operator, admin):
    created = operator_api.post(f"{API}/identities/", {"display_name": "Mine"}, format="json")
    assert created.status_code == 201, created.content
    own_id = created.json()["id"]
    assert operator_api.patch(f"{API}/identities/{own_id}/", {"notes": "x"}, format="json").json()["notes"] == "x"
    assert_error(operator_api.delete(f"{API}/identities/{own_id}/"), 403, "permission_denied")
    assert Identity.objects.get(pk=own_id).status == "active"
    # Someone else's enrollment is not theirs to see or change.
    other = services.create_identity(display_name="Other", actor=admin)
    assert_error(operator_api.patch(f"{API}/identities/{other.pk}/", {"notes": "x"}, format="json"), 404,
                 "not_found")
    assert Identity.objects.get(pk=other.pk).notes == ""


def test_a_reviewer_reads_everyone_but_cannot_create_update_or_erase(admin):
    reviewer = api_client(make_user("rev", "reviewer"))
    person = services.create_identity(display_name="Someone", actor=admin)
    assert reviewer.get(f"{API}/identities/{person.pk}/").status_code == 200
    assert_error(reviewer.post(f"{API}/identities/", {"display_name": "X"}, format="json"), 403,
                 "permission_denied")
    assert_error(reviewer.patch(f"{API}/identities/{person.pk}/", {"notes": "x"}, format="json"), 403,
                 "permission_denied")
    assert_error(reviewer.delete(f"{API}/identities/{person.pk}/"), 403, "permission_denied")
    assert Identity.objects.get(pk=person.pk).status == "active" and Identity.objects.count() == 1


def test_non_staff_see_only_the_identities_they_created(operator_api, operator, admin):
    own = make_person("Mine", actor=operator)
    other = make_person("Someone Else", actor=admin)
    services.enroll_photos(identity=other, uploads=[services.Upload("a.jpg", lfw("Colin_Powell", 1).read_bytes())],
                           actor=admin)
    services.enroll_photos(identity=own, uploads=[services.Upload("b.jpg", lfw("Tony_Blair", 1).read_bytes())],
                           actor=admin)
    other_photo = EnrollmentImage.objects.get(identity=other)

    assert [i["id"] for i in operator_api.get(f"{API}/identities/").json()["results"]] == [own.pk]
    assert_error(operator_api.get(f"{API}/identities/{other.pk}/"), 404, "not_found")
    assert_error(operator_api.get(f"{API}/identities/{other.pk}/consents/"), 404, "not_found")
    assert operator_api.get(f"{API}/identities/{own.pk}/consents/").json()["count"] == 1
    assert [p["identity"] for p in operator_api.get(f"{API}/photos/").json()["results"]] == [own.pk]
    assert_error(operator_api.get(f"{API}/photos/{other_photo.pk}/"), 404, "not_found")


def test_anonymous_requests_are_refused_with_401(db):
    client = APIClient()
    response = client.get(f"{API}/identities/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert_error(client.post(f"{API}/identities/", {"display_name": "X"}, format="json"), 401, "not_authenticated")
    assert_error(client.get(f"{API}/audit-log/"), 401, "not_authenticated")


def test_a_token_authenticates_api_clients(admin):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(admin)}")  # the keyword of DRF's tokens still works
    assert client.get(f"{API}/identities/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert_error(client.get(f"{API}/identities/"), 401, "invalid_token")


def test_session_login_works_for_the_pages_javascript(admin):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=admin.username, password=PASSWORD)
    assert client.get(f"{API}/identities/").status_code == 200
    # A session-authenticated write without the CSRF token is refused.
    assert_error(client.post(f"{API}/identities/", {"display_name": "X"}, format="json"), 403, "permission_denied")


# --- consent --------------------------------------------------------------------------------


def test_consent_is_recorded_listed_and_withdrawn(admin_api, admin):
    person = make_person("Ada Lovelace", actor=admin, consent=False)
    expires = timezone.now() + timedelta(days=365)
    created = admin_api.post(f"{API}/identities/{person.pk}/consents/",
                             {"given_by": "guardian", "given_by_name": "Lord Byron", "purpose": "door access",
                                 "wording_version": "v2", "expires_at": expires.isoformat()}, format="json")
    assert created.status_code == 201, created.content
    consent = created.json()
    assert consent["given_by"] == "guardian" and consent["is_valid"] is True and consent["withdrawn_at"] is None
    assert consent["recorded_by"] == admin.username

    listed = admin_api.get(f"{API}/identities/{person.pk}/consents/").json()
    assert [c["id"] for c in listed["results"]] == [consent["id"]]

    withdrawn = admin_api.post(f"{API}/consents/{consent['id']}/withdraw/")
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["is_valid"] is False and withdrawn.json()["withdrawn_at"] is not None
    assert Consent.objects.get(pk=consent["id"]).withdrawn_at is not None
    assert Identity.objects.get(pk=person.pk).erasure_due_at is not None
    assert AuditLog.objects.filter(action="consent.withdraw", target_id=str(consent["id"])).count() == 1
    # Twice is a conflict, not a second withdrawal.
    assert_error(admin_api.post(f"{API}/consents/{consent['id']}/withdraw/"), 409, "invalid_transition")


def test_consent_input_errors_are_clear(admin_api, admin):
    person = make_person(actor=admin, consent=False)
    error = assert_error(admin_api.post(f"{API}/identities/{person.pk}/consents/",
                                        {"given_by": "cat", "purpose": "p", "wording_version": "v1"},
                                        format="json"), 400, "invalid")
    assert set(error["fields"]) == {"given_by", "given_by_name"}
    assert error["fields"]["given_by"] == ['"cat" is not a valid choice: one of self, guardian, operator.']
    assert_error(admin_api.post(f"{API}/identities/999999/consents/",
                                {"given_by_name": "x", "purpose": "p", "wording_version": "v1"}, format="json"),
                 404, "not_found")
    assert_error(admin_api.post(f"{API}/consents/999999/withdraw/"), 404, "not_found")
    now = timezone.now()
    error = assert_error(admin_api.post(f"{API}/identities/{person.pk}/consents/",
                                        {"given_by_name": "x", "purpose": "p", "wording_version": "v1",
                                            "given_at": now.isoformat(),
                                            "expires_at": (now - timedelta(days=1)).isoformat()}, format="json"),
                         400, "invalid_consent")
    assert list(error["fields"]) == ["expires_at"]
    assert not Consent.objects.exists()


def test_an_operator_records_consent_for_their_own_people_but_cannot_withdraw(operator_api, operator, admin):
    person = make_person("Mine", actor=operator)
    recorded = operator_api.post(f"{API}/identities/{person.pk}/consents/",
                                 {"given_by_name": "x", "purpose": "p", "wording_version": "v1"}, format="json")
    assert recorded.status_code == 201, recorded.content
    consent = person.consents.order_by("pk").first()
    assert_error(operator_api.post(f"{API}/consents/{consent.pk}/withdraw/"), 403, "permission_denied")
    assert not person.consents.filter(withdrawn_at__isnull=False).exists()
    other = make_person("Other", actor=admin)
    assert_error(operator_api.post(f"{API}/identities/{other.pk}/consents/",
                                   {"given_by_name": "x", "purpose": "p", "wording_version": "v1"}, format="json"),
                 404, "not_found")
    assert other.consents.count() == 1


# --- photos ---------------------------------------------------------------------------------


def test_upload_without_consent_is_refused_and_stores_nothing(admin_api, admin):
    person = make_person(actor=admin, consent=False)
    error = assert_error(post_photos(admin_api, person.pk, upload_file(lfw("George_W_Bush", 1))), 409,
                         "consent_required")
    assert "consent" in error["fields"]
    assert not EnrollmentImage.objects.exists()


def test_upload_with_expired_or_withdrawn_consent_is_refused(admin_api, admin):
    expired = make_person("Expired", actor=admin, consent=False)
    services.record_consent(identity=expired, given_by_name="x", purpose="p", wording_version="v1",
                            given_at=timezone.now() - timedelta(days=30),
                            expires_at=timezone.now() - timedelta(days=1))
    withdrawn = make_person("Withdrawn", actor=admin)
    services.withdraw_consent(consent=withdrawn.consents.get())

    for person in (expired, withdrawn):
        assert_error(post_photos(admin_api, person.pk, upload_file(lfw("George_W_Bush", 1))), 409,
                     "consent_required")
    assert not EnrollmentImage.objects.exists()


def test_upload_with_consent_is_accepted_and_stored_privately(admin_api, admin):
    bush = make_person(actor=admin)

    response = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1)),
                           upload_file(lfw("George_W_Bush", 2)))

    assert response.status_code == 202, response.content
    photos = response.json()["photos"]
    assert [p["status"] for p in photos] == ["pending", "pending"]
    for photo in photos:
        assert photo["identity"] == bush.pk
        assert photo["status_url"].endswith(f"{API}/photos/{photo['id']}/")
    rows = EnrollmentImage.objects.filter(identity=bush)
    assert {r.status for r in rows} == {"pending"} and rows.count() == 2
    private_root = Path(settings.MEDIA_ROOT) / "private"
    for row in rows:
        path = Path(private_storage.path(row.file.name))
        assert path.is_relative_to(private_root) and path.read_bytes()[:6] == b"gAAAAA"  # encrypted at rest
        with row.file.open("rb") as fh:
            assert fh.read()[:2] == b"\xff\xd8"
        assert row.content_type == "image/jpeg" and row.uploaded_by == admin
        with pytest.raises(ValueError):
            row.file.url  # no URL: the photos are never served
    assert AuditLog.objects.filter(action="photo.upload").count() == 2


def test_photo_payloads_never_carry_bytes_or_urls(admin_api, admin):
    bush = make_person(actor=admin)
    [photo] = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1))).json()["photos"]
    EnrollmentImage.objects.filter(pk=photo["id"]).update(
        status="awaiting_review", face_box=[70.2, 60.0, 180.5, 190.1], detection_probability=0.999,
        quality={"sharpness": 40.1, "possible_duplicate": None})

    detail = admin_api.get(f"{API}/photos/{photo['id']}/")

    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "awaiting_review" and body["face_box"] == [70.2, 60.0, 180.5, 190.1]
    assert body["quality"] == {"sharpness": 40.1, "possible_duplicate": None}
    assert {"file", "crop", "url", "sha256"}.isdisjoint(body)
    assert "/media" not in detail.content.decode() and "private" not in detail.content.decode()
    listing = admin_api.get(f"{API}/photos/", {"identity": bush.pk, "status": "awaiting_review"}).json()
    assert [p["id"] for p in listing["results"]] == [photo["id"]]
    assert admin_api.get(f"{API}/photos/", {"status": "approved"}).json()["count"] == 0


def test_possible_duplicate_names_only_a_person_still_there(admin_api, admin):
    bush = make_person(actor=admin)
    other = make_person("Look Alike", actor=admin)
    [photo] = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1))).json()["photos"]
    EnrollmentImage.objects.filter(pk=photo["id"]).update(quality={"possible_duplicate": {
        "identity_id": other.pk, "display_name": "Look Alike", "similarity": 0.8, "threshold": 0.45}})
    assert admin_api.get(f"{API}/photos/{photo['id']}/").json()["quality"]["possible_duplicate"][
        "display_name"] == "Look Alike"

    services.erase_identity(identity=other)

    # The erasure made the flag forget whom it pointed at.
    assert admin_api.get(f"{API}/photos/{photo['id']}/").json()["quality"]["possible_duplicate"] is None


def test_possible_duplicate_names_nobody_the_reader_may_not_see(operator_api, operator, admin):
    mine = make_person(actor=operator)
    theirs = make_person("Look Alike", actor=admin)
    [photo] = post_photos(operator_api, mine.pk, upload_file(lfw("George_W_Bush", 1))).json()["photos"]
    EnrollmentImage.objects.filter(pk=photo["id"]).update(quality={"possible_duplicate": {
        "identity_id": theirs.pk, "similarity": 0.8, "threshold": 0.45}})

    duplicate = operator_api.get(f"{API}/photos/{photo['id']}/").json()["quality"]["possible_duplicate"]
    assert duplicate["identity_id"] is None and duplicate["display_name"] is None and duplicate["similarity"] == 0.8


def test_the_same_photo_twice_is_a_conflict(admin_api, admin):
    bush = make_person(actor=admin)
    assert post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1))).status_code == 202

    again = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1), name="renamed.jpg"))
    assert_error(again, 409, "duplicate_photo")
    twice_at_once = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 2)),
                                upload_file(lfw("George_W_Bush", 2), name="copy.jpg"))
    assert_error(twice_at_once, 409, "duplicate_photo")
    assert EnrollmentImage.objects.filter(identity=bush).count() == 1


def test_a_file_that_is_not_an_image_is_refused_with_its_code(admin_api, admin):
    bush = make_person(actor=admin)
    text = SimpleUploadedFile("notes.jpg", b"these are not the pixels you are looking for\n" * 20,
                              content_type="image/jpeg")
    error = assert_error(post_photos(admin_api, bush.pk, text), 400, "not_an_image")
    assert "photos" in error["fields"] and "notes.jpg" in error["message"]
    assert not EnrollmentImage.objects.exists()


def test_a_truncated_jpeg_is_refused_as_corrupt_and_nothing_of_the_upload_is_kept(admin_api, admin,
                                                                                  isolated_media):
    bush = make_person(actor=admin)
    data = lfw("George_W_Bush", 1).read_bytes()
    truncated = SimpleUploadedFile("cut.jpg", data[: len(data) // 2], content_type="image/jpeg")
    files_before = sorted(p for p in Path(isolated_media).rglob("*") if p.is_file())

    response = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 2)), truncated)

    assert_error(response, 400, "corrupt")
    assert not EnrollmentImage.objects.exists()
    assert sorted(p for p in Path(isolated_media).rglob("*") if p.is_file()) == files_before


def test_too_many_pixels_is_a_400(admin_api, admin, settings):
    settings.FACEREC_MAX_IMAGE_PIXELS = 100 * 100
    bush = make_person(actor=admin)
    assert_error(post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1))), 400, "too_many_pixels")


def test_a_file_over_the_byte_limit_is_a_413(admin_api, admin, settings):
    settings.FACEREC_MAX_UPLOAD_BYTES = 100 * 1024
    bush = make_person(actor=admin)
    buf = io.BytesIO()
    Image.effect_noise((1000, 1000), 64).convert("RGB").save(buf, format="PNG")  # incompressible: ~1 MB
    big = SimpleUploadedFile("big.png", buf.getvalue(), content_type="image/png")

    error = assert_error(post_photos(admin_api, bush.pk, big), 413, "too_large")

    assert error["fields"] == {"photos": [error["message"]]} and "big.png" in error["message"]
    assert not EnrollmentImage.objects.exists()


def test_an_upload_without_files_is_a_400(admin_api, admin):
    bush = make_person(actor=admin)
    assert_error(admin_api.post(f"{API}/identities/{bush.pk}/photos/", {}, format="multipart"), 400, "empty")
    empty = SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")
    assert_error(post_photos(admin_api, bush.pk, empty), 400, "empty")
    assert_error(admin_api.post(f"{API}/identities/{bush.pk}/photos/", {"photos": []}, format="json"), 415,
                 "unsupported_media_type")
    assert not EnrollmentImage.objects.exists()


def test_an_upload_that_is_not_multipart_is_a_documented_415(admin_api, admin):
    # Found by the schemathesis run (tests/api_fuzz): a body that is not multipart got an undocumented 415.
    bush = make_person(actor=admin)
    url = f"{API}/identities/{bush.pk}/photos/"
    assert_error(admin_api.generic("POST", url, b"\xc2\xb3v"), 415, "unsupported_media_type")
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "415" in schema["paths"]["/api/v1/identities/{identity_id}/photos/"]["post"]["responses"]
    assert not EnrollmentImage.objects.exists()


def test_upload_for_an_unknown_or_erased_identity(admin_api, admin):
    assert_error(post_photos(admin_api, 999999, upload_file(lfw("George_W_Bush", 1))), 404, "not_found")
    erased = make_person(actor=admin)
    services.erase_identity(identity=erased)
    assert_error(post_photos(admin_api, erased.pk, upload_file(lfw("George_W_Bush", 1))), 410, "identity_erased")
    assert not EnrollmentImage.objects.exists()


def test_an_operator_uploads_to_their_own_people_only(operator_api, operator, admin):
    mine = make_person("Mine", actor=operator)
    assert post_photos(operator_api, mine.pk, upload_file(lfw("George_W_Bush", 1))).status_code == 202
    other = make_person("Other", actor=admin)
    assert_error(post_photos(operator_api, other.pk, upload_file(lfw("George_W_Bush", 2))), 404, "not_found")
    assert list(EnrollmentImage.objects.values_list("identity_id", flat=True)) == [mine.pk]


def test_a_signed_in_user_without_a_role_can_do_nothing(db):
    nobody = api_client(make_user("nobody"))
    for response in [nobody.get(f"{API}/identities/"), nobody.get(f"{API}/photos/"),
                     nobody.post(f"{API}/identities/", {"display_name": "X"}, format="json")]:
        assert_error(response, 403, "permission_denied")
    assert not Identity.objects.exists()


# --- review ---------------------------------------------------------------------------------


@pytest.fixture
def awaiting(admin_api, admin) -> list[int]:
    """Two uploaded photos, set to awaiting_review directly (the worker's part is tested elsewhere)."""
    bush = make_person(actor=admin)
    photos = post_photos(admin_api, bush.pk, upload_file(lfw("George_W_Bush", 1)),
                         upload_file(lfw("George_W_Bush", 2))).json()["photos"]
    ids = sorted(p["id"] for p in photos)
    EnrollmentImage.objects.filter(pk__in=ids).update(status="awaiting_review")
    return ids


def test_staff_approve_and_reject_in_bulk(admin_api, admin, awaiting):
    approved = admin_api.post(f"{API}/photos/approve/", {"ids": awaiting[:1]}, format="json")
    assert approved.status_code == 200, approved.content
    assert [(p["id"], p["status"], p["reviewed_by"]) for p in approved.json()["photos"]] == [
        (awaiting[0], "approved", admin.username)]

    rejected = admin_api.post(f"{API}/photos/reject/", {"ids": awaiting, "reason": "not him"}, format="json")
    assert rejected.status_code == 200, rejected.content
    assert {p["status"] for p in rejected.json()["photos"]} == {"rejected"}
    assert {(p.rejection_reason, p.rejection_detail) for p in EnrollmentImage.objects.filter(pk__in=awaiting)} == {
        ("reviewer", "not him")}
    assert AuditLog.objects.filter(action="photo.reject").count() == 2


def test_reject_then_approve_is_an_invalid_transition(admin_api, awaiting):
    photo_id = awaiting[0]
    rejected = admin_api.post(f"{API}/photos/{photo_id}/reject/", {"reason": "blurred"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"

    assert_error(admin_api.post(f"{API}/photos/{photo_id}/approve/"), 409, "invalid_transition")
    # Bulk is all or nothing: the other photo is not approved either.
    assert_error(admin_api.post(f"{API}/photos/approve/", {"ids": awaiting}, format="json"), 409,
                 "invalid_transition")
    assert EnrollmentImage.objects.get(pk=photo_id).status == "rejected"
    assert EnrollmentImage.objects.get(pk=awaiting[1]).status == "awaiting_review"


def test_review_input_errors(admin_api, awaiting):
    assert_error(admin_api.post(f"{API}/photos/approve/", {"ids": []}, format="json"), 400, "invalid")
    error = assert_error(admin_api.post(f"{API}/photos/approve/", {"ids": ["x"]}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["ids.0"]
    assert_error(admin_api.post(f"{API}/photos/reject/", {"ids": awaiting}, format="json"), 400, "invalid")
    assert_error(admin_api.post(f"{API}/photos/{awaiting[0]}/reject/", {"reason": " "}, format="json"), 400,
                 "invalid")
    assert_error(admin_api.post(f"{API}/photos/approve/", {"ids": [999999]}, format="json"), 404, "not_found")
    assert_error(admin_api.post(f"{API}/photos/999999/approve/"), 404, "not_found")
    assert set(EnrollmentImage.objects.values_list("status", flat=True)) == {"awaiting_review"}


def test_approving_after_consent_withdrawal_needs_consent(admin_api, awaiting):
    photo = EnrollmentImage.objects.get(pk=awaiting[0])
    services.withdraw_consent(consent=photo.consent)
    assert_error(admin_api.post(f"{API}/photos/{photo.pk}/approve/"), 409, "consent_required")
    assert EnrollmentImage.objects.get(pk=photo.pk).status == "awaiting_review"


def test_non_staff_cannot_review(operator_api, awaiting):
    assert_error(operator_api.post(f"{API}/photos/approve/", {"ids": awaiting}, format="json"), 403,
                 "permission_denied")
    assert_error(operator_api.post(f"{API}/photos/{awaiting[0]}/reject/", {"reason": "x"}, format="json"), 403,
                 "permission_denied")


# --- jobs, errors, schema -------------------------------------------------------------------


def test_job_status_reports_the_celery_state(admin_api, celery_app_for_tests):
    # celery_app_for_tests first: the app caches its result backend at first use, and a backend
    # cached before the test broker is configured would hide the worker's results from later tests.
    response = admin_api.get(f"{API}/jobs/evaluation-report-424242/")
    assert response.status_code == 200
    assert response.json() == {"id": "evaluation-report-424242", "status": "PENDING", "result": None}
    assert_error(admin_api.get(f"{API}/jobs/not%20a%20task/"), 404, "not_found")
    # Only the platform's own jobs, each behind the object it works on: any other id is unknown.
    assert_error(admin_api.get(f"{API}/jobs/0b5c0f1e-5f0e-4d0e-9d55-000000000000/"), 404, "not_found")


def test_a_photo_job_is_shown_only_to_whoever_may_read_that_photos_person(admin, operator_api, operator,
                                                                            celery_app_for_tests):
    theirs = make_person(actor=admin)
    [their_photo] = services.enroll_photos(identity=theirs, actor=admin, uploads=[
        services.Upload(name="a.jpg", data=lfw("George_W_Bush", 1).read_bytes())])
    mine = make_person("Colin Powell", actor=operator)
    [my_photo] = services.enroll_photos(identity=mine, actor=operator, uploads=[
        services.Upload(name="b.jpg", data=lfw("Colin_Powell", 1).read_bytes())])

    assert operator_api.get(f"{API}/jobs/{services.processing_task_id(my_photo.pk)}/").status_code == 200
    assert_error(operator_api.get(f"{API}/jobs/{services.processing_task_id(their_photo.pk)}/"), 404, "not_found")
    assert_error(operator_api.get(f"{API}/jobs/evaluation-report-1/"), 404, "not_found")  # no run_reports


def test_an_unexpected_error_is_a_generic_500_with_the_request_id(admin_api, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(identity_services, "create_identity", broken)
    response = admin_api.post(f"{API}/identities/", {"display_name": "X"}, format="json",
                              HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "unexpected error", "fields": {},
                                         "request_id": "req-42"}}
    assert "secret internals" not in response.content.decode() and "Traceback" not in response.content.decode()
    assert response["X-Request-ID"] == "req-42"
    assert any("req-42" in r.getMessage() and r.exc_info for r in caplog.records)


def test_malformed_json_is_a_400(admin_api):
    response = admin_api.post(f"{API}/identities/", "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_an_api_url_that_matches_no_route_is_a_json_404(admin_api):
    # Found by the schemathesis run (tests/api_fuzz): a non-numeric id answered Django's HTML page.
    for url in (f"{API}/identities/abc/", f"{API}/reports/1;/apply-threshold", f"{API}/no-such-thing/"):
        assert_error(admin_api.get(url), 404, "not_found")
    page = admin_api.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_an_invalid_page_of_a_list_is_a_documented_404(admin_api):
    # Found by the schemathesis run: DRF's pagination answers 404, which the list operations did not document.
    for url in (f"{API}/identities/", f"{API}/photos/", f"{API}/audit-log/", f"{API}/reports/",
                f"{API}/reenrollment-requests/"):
        assert_error(admin_api.get(url, {"page": "abc"}), 404, "not_found")
        assert_error(admin_api.get(url, {"page": 99}), 404, "not_found")
    paths = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path in ("/api/v1/identities/", "/api/v1/photos/", "/api/v1/audit-log/", "/api/v1/reports/",
                 "/api/v1/reenrollment-requests/"):
        assert "404" in paths[path]["get"]["responses"], path


def test_schema_and_docs_are_served(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/identities/", "/api/v1/identities/{identity_id}/photos/", "/api/v1/photos/approve/",
            "/api/v1/audit-log/", "/api/v1/jobs/{task_id}/"} <= set(paths)
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200 and docs["Content-Type"].startswith("text/html")
    # Swagger UI's init script (its own URL, for the CSP) points it at the schema.
    assert b'<script src="/api/docs/?script="></script>' in docs.content
    assert b"/api/schema/" in APIClient().get("/api/docs/?script=").content

