"""POST /api/v1/verify: 1:1 verification of real LFW photos, two photos or a photo and a claimed identity."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.models import AuditLog
from enrollment import services as identity_services
from tests.api_helpers import api_client
from tests.recognition.conftest import grey_jpeg, lfw_bytes
from tests.users import make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/verify"

# Two different photos of one person: of enrolled people and of people never enrolled.
SAME_PERSON = [(("George_W_Bush", 10), ("George_W_Bush", 11)), (("Colin_Powell", 11), ("Colin_Powell", 12)),
               (("Gerhard_Schroeder", 10), ("Gerhard_Schroeder", 11)), (("Jacques_Chirac", 10), ("Jacques_Chirac", 12))]
DIFFERENT_PEOPLE = [(("George_W_Bush", 10), ("Colin_Powell", 11)), (("Tony_Blair", 10), ("Gerhard_Schroeder", 10)),
                    (("Ariel_Sharon", 10), ("Jacques_Chirac", 10)), (("Donald_Rumsfeld", 10), ("Hugo_Chavez", 10))]


def upload(data: bytes, name: str = "probe.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def verify(client: APIClient, **fields):
    fields = {name: upload(value) if isinstance(value, bytes) else value for name, value in fields.items()}
    return client.post(URL, fields, format="multipart")


def verified(client: APIClient, **fields) -> dict:
    response = verify(client, **fields)
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert field in error["fields"], error
    return error


@pytest.fixture(scope="class")
def pair_results(gallery) -> dict[str, list[dict]]:
    """Two-photo verification of every pair above, once for the class."""
    client = api_client(gallery.owner)
    return {kind: [verified(client, image_a=lfw_bytes(*a), image_b=lfw_bytes(*b)) for a, b in pairs]
            for kind, pairs in (("same", SAME_PERSON), ("different", DIFFERENT_PEOPLE))}


class TestVerify:
    def test_two_photos_of_the_same_person_match(self, pair_results):
        for (a, b), body in zip(SAME_PERSON, pair_results["same"]):
            assert body["match"] is True, (a, b, body)
            assert body["similarity"] >= body["threshold"]
            assert body["identity_id"] is None and body["templates_compared"] is None
            assert len(body["faces"]) == 2 and all(len(box) == 4 for box in body["faces"])

    def test_photos_of_different_people_do_not_match(self, pair_results):
        for (a, b), body in zip(DIFFERENT_PEOPLE, pair_results["different"]):
            assert body["match"] is False, (a, b, body)
            assert body["similarity"] < body["threshold"]

    def test_same_person_similarities_are_all_above_different_people_similarities(self, pair_results):
        same = [body["similarity"] for body in pair_results["same"]]
        different = [body["similarity"] for body in pair_results["different"]]
        assert min(same) > max(different), (same, different)

    def test_the_answer_names_the_default_threshold_and_its_source(self, pair_results, gallery):
        body = pair_results["same"][0]
        from recognition.selectors import default_threshold

        default = default_threshold("verify", model_version=body["model_version"])
        assert body["threshold"] == default.value and body["threshold_source"] == default.source
        assert body["threshold_source"].startswith("calibrated default: FAR 0.001 per claim")
        assert body["model_version"] == gallery.classifier.model_version

    def test_a_threshold_in_the_request_is_used_and_named(self, gallery):
        body = verified(api_client(gallery.owner), image_a=lfw_bytes("George_W_Bush", 10),
                        image_b=lfw_bytes("George_W_Bush", 11), threshold=0.99)
        assert body["threshold"] == 0.99 and body["threshold_source"] == "request"
        assert body["match"] is False  # the same pair as above, under a stricter threshold

    def test_a_photo_matches_the_identity_it_shows_and_not_another(self, gallery):
        client = api_client(gallery.owner)
        bush, powell = gallery.people["George_W_Bush"], gallery.people["Colin_Powell"]

        right = verified(client, image=lfw_bytes("George_W_Bush", 12), identity_id=bush.pk)
        wrong = verified(client, image=lfw_bytes("George_W_Bush", 12), identity_id=powell.pk)

        assert right["match"] is True and right["identity_id"] == bush.pk and right["templates_compared"] == 3
        assert right["similarity"] >= right["threshold"] and len(right["faces"]) == 1
        assert wrong["match"] is False and wrong["identity_id"] == powell.pk
        assert wrong["similarity"] < right["similarity"]

    def test_a_person_never_enrolled_does_not_match_any_identity(self, gallery):
        client = api_client(gallery.owner)
        for identity in gallery.people.values():
            body = verified(client, image=lfw_bytes("Ariel_Sharon", 10), identity_id=identity.pk)
            assert body["match"] is False, (identity, body)

    def test_an_unknown_identity_is_404(self, gallery):
        response = verify(api_client(gallery.owner), image=lfw_bytes("George_W_Bush", 12), identity_id=999_999)
        assert_error(response, 404, "not_found")

    def test_verify_needs_the_capability_not_the_enrollment(self, gallery, stranger_user):
        bush = gallery.people["George_W_Bush"]
        # An operator who did not enroll Bush still verifies a claim to be him (the kiosk's job) ...
        assert verified(api_client(stranger_user), image=lfw_bytes("George_W_Bush", 12),
                        identity_id=bush.pk)["match"]
        # ... a reviewer (no verify capability) may not.
        response = verify(api_client(make_user("rev", "reviewer")), image=lfw_bytes("George_W_Bush", 12),
                          identity_id=bush.pk)
        assert_error(response, 403, "permission_denied")

    def test_an_erased_identity_is_410(self, gallery):
        blair = gallery.people["Tony_Blair"]
        identity_services.erase_identity(identity=blair, actor=gallery.owner)

        response = verify(api_client(gallery.owner), image=lfw_bytes("Tony_Blair", 10), identity_id=blair.pk)

        assert_error(response, 410, "identity_erased", field="identity_id")

    def test_an_identity_without_approved_templates_is_409(self, gallery):
        newcomer = identity_services.create_identity(display_name="Newcomer", actor=gallery.owner)

        response = verify(api_client(gallery.owner), image=lfw_bytes("George_W_Bush", 12), identity_id=newcomer.pk)

        assert_error(response, 409, "no_templates", field="identity_id")

    def test_each_call_is_audited_without_image_data(self, gallery):
        client = api_client(gallery.owner)
        bush = gallery.people["George_W_Bush"]
        before = AuditLog.objects.filter(action="recognition.verify").count()

        pair = verified(client, image_a=lfw_bytes("George_W_Bush", 10), image_b=lfw_bytes("Colin_Powell", 11))
        claim = verified(client, image=lfw_bytes("George_W_Bush", 12), identity_id=bush.pk)

        entries = list(AuditLog.objects.filter(action="recognition.verify").order_by("id"))
        assert len(entries) == before + 2
        pair_entry, claim_entry = entries[-2:]
        assert pair_entry.actor == gallery.owner and pair_entry.details["mode"] == "two-images"
        assert pair_entry.details["similarity"] == pair["similarity"] and pair_entry.details["match"] is False
        assert claim_entry.details["mode"] == "identity" and claim_entry.details["match"] is True
        assert claim_entry.target_id == str(bush.pk) and claim_entry.details["similarity"] == claim["similarity"]
        for entry in (pair_entry, claim_entry):
            assert set(entry.details) == {"mode", "similarity", "score", "match", "reason", "threshold",
                                          "liveness_policy", "liveness"}
            assert len(json.dumps(entry.details)) < 300  # figures only: no pixels, no embedding


# --- refused input ------------------------------------------------------------------------


def test_both_modes_at_once_are_refused(operator_api):
    error = assert_error(verify(operator_api, image_a=grey_jpeg(), image_b=grey_jpeg(), image=grey_jpeg(),
                                identity_id=1), 400, "invalid")
    assert "image_a and image_b" in error["message"] and "image and identity_id" in error["message"]


def test_a_request_with_neither_mode_is_refused(operator_api):
    error = assert_error(verify(operator_api, threshold=0.5), 400, "invalid")
    assert "image_a and image_b" in error["message"] and "image and identity_id" in error["message"]


@pytest.mark.parametrize("fields, missing", [
    ({"image_a": True}, "image_b"),
    ({"image_b": True}, "image_a"),
    ({"image": True}, "identity_id"),
    ({"identity_id": 1}, "image"),
])
def test_half_a_mode_is_refused_naming_the_missing_field(operator_api, fields, missing):
    fields = {name: grey_jpeg() if value is True else value for name, value in fields.items()}
    error = assert_error(verify(operator_api, **fields), 400, "invalid", field=missing)
    assert "image and identity_id" in error["fields"][missing][0]


def test_a_photo_without_a_face_is_refused_naming_the_photo(operator_api):
    response = verify(operator_api, image_a=lfw_bytes("George_W_Bush", 10), image_b=grey_jpeg())
    assert_error(response, 400, "no_face", field="image_b")


def test_a_file_that_is_not_an_image_is_refused_naming_it(operator_api):
    response = verify(operator_api, image_a=b"%PDF-1.4 not a photo", image_b=lfw_bytes("George_W_Bush", 10))
    assert_error(response, 400, "not_an_image", field="image_a")


def test_a_threshold_outside_0_to_1_is_refused(operator_api):
    response = verify(operator_api, image_a=grey_jpeg(), image_b=grey_jpeg(), threshold=-0.1)
    assert_error(response, 400, "invalid", field="threshold")


def test_a_file_over_the_upload_limit_is_refused_with_413(operator_api, settings):
    settings.FACEREC_MAX_UPLOAD_BYTES = 4_000
    response = verify(operator_api, image_a=lfw_bytes("George_W_Bush", 10), image_b=lfw_bytes("George_W_Bush", 11))
    assert_error(response, 413, "too_large")


def test_a_body_that_is_not_multipart_is_a_documented_415(operator_api):
    # Found by the schemathesis run (tests/api_fuzz): the 415 was not in the schema.
    assert_error(operator_api.post(URL, {"identity_id": 1}, format="json"), 415, "unsupported_media_type")
    assert_error(operator_api.generic("POST", URL, b"\xc2\xb3v"), 415, "unsupported_media_type")
    schema = operator_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "415" in schema["paths"][URL]["post"]["responses"]


def test_anonymous_callers_get_401():
    assert_error(verify(APIClient(), image_a=grey_jpeg(), image_b=grey_jpeg()), 401, "not_authenticated")
    assert not AuditLog.objects.filter(action="recognition.verify").exists()
