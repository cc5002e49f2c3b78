"""Liveness in identify, verify and enrollment: FACEREC_LIVENESS off | report | enforce, per request for
callers holding `choose_liveness`, and in the audit log.

Attacks are the shipped samples (photos of faces shown to a camera); live faces are LFW photos.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditLog
from enrollment import services as identity_services
from identities.models import EnrollmentImage
from tests.api_helpers import api_client
from tests.recognition.conftest import PASSWORD, display_name, lfw_bytes
from tests.shared_data import ANTISPOOF_SOURCE
from tests.users import make_user

pytestmark = pytest.mark.django_db

ATTACK = (ANTISPOOF_SOURCE / "samples" / "image_F2.jpg").read_bytes()  # a face shown on a screen
LIVE_SAMPLE = (ANTISPOOF_SOURCE / "samples" / "image_T1.jpg").read_bytes()


def upload(data: bytes, name: str = "probe.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def identify(client: APIClient, data: bytes, **fields) -> dict:
    response = client.post("/api/v1/identify", {"image": upload(data), **fields}, format="multipart")
    assert response.status_code == 200, response.content
    return response.json()


def verify_claim(client: APIClient, data: bytes, identity_id: int, **fields) -> dict:
    response = client.post("/api/v1/verify", {"image": upload(data), "identity_id": identity_id, **fields},
                           format="multipart")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def admin(gallery):
    return make_user("liveness-admin", "admin", password=PASSWORD)


@pytest.mark.usefixtures("gallery")
class TestIdentifyAndVerify:
    def test_identify_reports_the_liveness_of_every_face_by_default(self, gallery_owner, gallery):
        body = identify(api_client(gallery_owner), lfw_bytes("George_W_Bush", 10))

        assert body["liveness_policy"] == "report"
        [face] = [f for f in body["faces"] if f["label"] == "George W Bush"]
        assert set(face["liveness"]) == {"score", "is_live"} and face["liveness"]["is_live"] is True
        assert 0.0 <= face["liveness"]["score"] <= 1.0 and face["reason"] is None
        entry = AuditLog.objects.filter(action="recognition.identify").latest("id")
        assert entry.details["liveness_policy"] == "report"
        assert face["liveness"] in entry.details["liveness"]

    def test_report_answers_an_attack_as_usual_but_says_it_failed(self, admin):
        body = identify(api_client(admin), ATTACK)
        [face] = body["faces"]
        assert face["liveness"]["is_live"] is False and face["liveness"]["score"] < 0.1
        assert face["reason"] in ("below_threshold", None) and face["candidates"]  # searched as usual

    def test_enforce_refuses_an_attack_without_searching_the_gallery(self, admin):
        body = identify(api_client(admin), ATTACK, liveness="enforce")

        [face] = body["faces"]
        assert body["liveness_policy"] == "enforce"
        assert face["label"] == "unknown" and face["identity"] is None and face["reason"] == "liveness_failed"
        assert face["candidates"] == [] and face["score"] is None  # nothing about the gallery leaks
        entry = AuditLog.objects.filter(action="recognition.identify").latest("id")
        assert entry.details["liveness_policy"] == "enforce"
        assert entry.details["liveness"][0]["is_live"] is False

    def test_enforce_still_identifies_a_live_face(self, admin):
        body = identify(api_client(admin), lfw_bytes("Colin_Powell", 11), liveness="enforce")
        assert "Colin Powell" in [f["label"] for f in body["faces"]]

    def test_off_leaves_liveness_out(self, admin):
        body = identify(api_client(admin), lfw_bytes("Colin_Powell", 11), liveness="off")
        assert body["liveness_policy"] == "off" and all(f["liveness"] is None for f in body["faces"])

    def test_the_platform_policy_comes_from_the_setting(self, gallery_owner, settings):
        settings.FACEREC_LIVENESS = "enforce"
        body = identify(api_client(gallery_owner), ATTACK)
        assert body["liveness_policy"] == "enforce" and body["faces"][0]["reason"] == "liveness_failed"

    def test_choosing_a_policy_needs_the_capability(self, gallery_owner):
        response = api_client(gallery_owner).post("/api/v1/identify", {"image": upload(ATTACK), "liveness": "off"},
                                                  format="multipart")
        assert response.status_code == 403
        assert "choose_liveness" in response.json()["error"]["message"]

    def test_an_unknown_policy_is_refused_with_its_field(self, admin):
        response = api_client(admin).post("/api/v1/identify", {"image": upload(ATTACK), "liveness": "strict"},
                                          format="multipart")
        assert response.status_code == 400
        assert "liveness" in str(response.json()["error"]["fields"])

    def test_verify_enforce_answers_no_match_for_an_attack(self, admin, gallery):
        bush = gallery.people["George_W_Bush"]
        genuine = verify_claim(api_client(admin), lfw_bytes("George_W_Bush", 10), bush.pk, liveness="enforce")
        attack = verify_claim(api_client(admin), ATTACK, bush.pk, liveness="enforce")

        assert genuine["match"] is True and genuine["reason"] is None and genuine["liveness"][0]["is_live"]
        assert attack["match"] is False and attack["reason"] == "liveness_failed"
        assert attack["liveness_policy"] == "enforce" and attack["liveness"][0]["is_live"] is False
        entry = AuditLog.objects.filter(action="recognition.verify").latest("id")
        assert entry.details["reason"] == "liveness_failed" and entry.details["liveness"][0]["is_live"] is False

    def test_two_photo_verify_reports_both_faces(self, gallery_owner):
        response = api_client(gallery_owner).post("/api/v1/verify", {
            "image_a": upload(lfw_bytes("Colin_Powell", 11)), "image_b": upload(LIVE_SAMPLE)}, format="multipart")
        body = response.json()
        assert response.status_code == 200 and len(body["liveness"]) == 2
        assert all(item["is_live"] for item in body["liveness"]) and body["reason"] == "below_threshold"

    def test_the_identify_page_shows_liveness_beside_each_face(self, client, admin):
        client.force_login(admin)
        page = client.post(reverse("recognition:identify"), {"image": upload(ATTACK), "top_k": 5, "liveness": "enforce"})
        html = page.content.decode()
        assert page.status_code == 200
        assert "possible presentation attack" in html and "failed the liveness check" in html
        assert "Liveness check" in html  # the admin may choose the policy on the page


def test_an_enrollment_photo_that_fails_liveness_is_rejected_when_enforced(settings, admin_user):
    settings.FACEREC_LIVENESS = "enforce"
    person = identity_services.create_identity(display_name="Screen Face", actor=admin_user)
    identity_services.record_consent(identity=person, given_by_name="x", purpose="test", wording_version="v1",
                                     actor=admin_user)
    attack, live = identity_services.enroll_photos(identity=person, actor=admin_user, uploads=[
        identity_services.Upload(name="attack.jpg", data=ATTACK),
        identity_services.Upload(name="live.jpg", data=lfw_bytes("Tony_Blair", 10))])

    assert identity_services.process_photo(attack.pk) == EnrollmentImage.Status.REJECTED
    assert identity_services.process_photo(live.pk) == EnrollmentImage.Status.AWAITING_REVIEW

    attack.refresh_from_db()
    live.refresh_from_db()
    assert attack.rejection_reason == "liveness_failed" and attack.quality["liveness"]["is_live"] is False
    assert not attack.embeddings.exists()
    assert live.quality["liveness"]["is_live"] is True
    entry = AuditLog.objects.filter(action="photo.process", target_id=str(attack.pk)).get()
    assert entry.details["reason"] == "liveness_failed" and entry.details["liveness"]["is_live"] is False


def test_with_liveness_off_enrollment_records_no_score(settings, admin_user):
    settings.FACEREC_LIVENESS = "off"
    person = identity_services.create_identity(display_name=display_name("Tony_Blair"), actor=admin_user)
    identity_services.record_consent(identity=person, given_by_name="x", purpose="test", wording_version="v1",
                                     actor=admin_user)
    [photo] = identity_services.enroll_photos(identity=person, actor=admin_user, uploads=[
        identity_services.Upload(name="live.jpg", data=lfw_bytes("Tony_Blair", 10))])
    assert identity_services.process_photo(photo.pk) == EnrollmentImage.Status.AWAITING_REVIEW
    photo.refresh_from_db()
    assert "liveness" not in photo.quality
