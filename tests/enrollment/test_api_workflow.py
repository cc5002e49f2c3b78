"""The enrollment workflow through the REST API with the real worker doing the processing."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.shared_data import LFW_IMAGES
from tests.users import make_user

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _photo(person: str, n: int) -> SimpleUploadedFile:
    path = LFW_IMAGES / person / f"{person}_{n:04d}.jpg"
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")


def _poll(client: APIClient, url: str, until, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if until(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{url} never satisfied the condition: {body}")


def test_identity_consent_upload_processing_review_and_erasure_through_the_api(celery_worker, django_user_model):
    staff = make_user("staff", "admin", password="x" * 12)
    client = APIClient()
    client.force_authenticate(staff)

    identity = client.post("/api/v1/identities/", {"display_name": "Gerhard Schroeder"}, format="json").json()
    no_consent = client.post(f"/api/v1/identities/{identity['id']}/photos/",
                             {"photos": [_photo("Gerhard_Schroeder", 1)]}, format="multipart")
    assert no_consent.status_code == 409 and no_consent.json()["error"]["code"] == "consent_required"

    consent = client.post(f"/api/v1/identities/{identity['id']}/consents/",
                          {"given_by_name": "Gerhard Schroeder", "purpose": "access", "wording_version": "v1"},
                          format="json")
    assert consent.status_code == 201
    upload = client.post(f"/api/v1/identities/{identity['id']}/photos/",
                         {"photos": [_photo("Gerhard_Schroeder", 1), _photo("Gerhard_Schroeder", 2)]},
                         format="multipart")
    assert upload.status_code == 202
    photos = upload.json()["photos"]
    assert {p["status"] for p in photos} == {"pending"}

    for photo in photos:
        job = _poll(client, photo["job_url"], lambda body: body["status"] in ("SUCCESS", "FAILURE"))
        assert job["status"] == "SUCCESS" and job["result"] == "awaiting_review"
        detail = client.get(photo["status_url"]).json()
        assert detail["status"] == "awaiting_review"
        assert detail["detection_probability"] > 0.95 and len(detail["face_box"]) == 4

    first, second = (p["id"] for p in photos)
    assert client.post(f"/api/v1/photos/{first}/approve/").status_code == 200
    rejected = client.post(f"/api/v1/photos/{second}/reject/", {"reason": "eyes closed"}, format="json")
    assert rejected.status_code == 200
    again = client.post(f"/api/v1/photos/{second}/approve/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"

    erased = client.delete(f"/api/v1/identities/{identity['id']}/")
    assert erased.status_code == 200
    assert client.get(f"/api/v1/photos/{first}/").status_code == 404
    actions = [e["action"] for e in client.get("/api/v1/audit-log/?page_size=200").json()["results"]]
    for action in ("identity.create", "consent.record", "photo.upload", "photo.process", "photo.approve",
                   "photo.reject", "identity.erase"):
        assert action in actions, action
