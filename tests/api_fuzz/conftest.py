"""Fixtures of the API fuzz test: the schema loaded from the app itself, token users, seeded rows.

The requests go through the WSGI application in this process, so they share the test's
connection and transaction (the `db` fixture): rows seeded here are visible to them, what
they write is rolled back, and on-commit Celery dispatches never fire.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from accounts.services import create_token
from cameras.services.cameras import create_camera
from cameras.services.sightings import SeenTrack, record_sighting
from evaluation.models import EvaluationReport
from evaluation.services import report_dir, report_task_id
from enrollment import services as identity_services
from identities.models import EnrollmentImage
from recognition.services import Decision
from reenrollment.models import ReenrollmentRequest
from tests.shared_data import lfw_bytes
from tests.tokens import token_for
from tests.users import make_user
from tests.videos.conftest import finished_video
from webhooks import services as webhook_services
from webhooks.models import Delivery

SCHEMA_PATH = "/api/schema/"


@dataclass(frozen=True)
class Seeded:
    """Path parameters of real rows, offered to the fuzzer beside the values it draws itself."""

    path_values: dict[str, list]


@pytest.fixture
def wsgi_app(settings, celery_app_for_tests):
    """The site's WSGI application, with per-request connection closing off as Django's test client does
    (closing would end the test's transaction), no API rate limit (the fuzzer sends hundreds of calls),
    and job status read from the test broker."""
    from facerec_site.wsgi import application

    settings.FACEREC_API_RATE = settings.FACEREC_API_ANON_RATE = settings.FACEREC_API_RECOGNITION_RATE = ""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# The shared `admin` and `operator` (tests/users.py) under names of their own, as the fuzz runs always had.
@pytest.fixture
def admin(django_user_model):
    return make_user("fuzz-staff", "admin", password="x" * 12)


@pytest.fixture
def operator(django_user_model):
    return make_user("fuzz-operator", "operator", password="x" * 12)


def token_header(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


@pytest.fixture
def seeded(admin, operator, settings) -> Seeded:
    """One of each row the API addresses by id, so that generated requests reach past the 404."""
    staff_person = identity_services.create_identity(display_name="Ada Lovelace", external_ref="FUZZ-1",
                                                     actor=admin)
    consent = identity_services.record_consent(identity=staff_person, given_by_name="Ada Lovelace",
                                               purpose="building access", wording_version="v1", actor=admin)
    own_person = identity_services.create_identity(display_name="Grace Hopper", actor=operator)
    identity_services.record_consent(identity=own_person, given_by_name="Grace Hopper", purpose="door",
                                     wording_version="v1", actor=operator)
    photos = identity_services.enroll_photos(identity=staff_person, actor=admin, uploads=[
        identity_services.Upload(name=f"{n}.jpg", data=lfw_bytes("George_W_Bush", n)) for n in (1, 2)])
    # One pending (approve/reject: 409), one awaiting review (approve/reject: 200).
    EnrollmentImage.objects.filter(pk=photos[1].pk).update(status=EnrollmentImage.Status.AWAITING_REVIEW)
    report = EvaluationReport.objects.create(kind="enrolled", status=EvaluationReport.Status.DONE, parameters={},
                                             plots={"roc": "roc.png"}, progress=1.0)
    report.task_id = report_task_id(report.pk)
    report.save(update_fields=["task_id"])
    folder = report_dir(report.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "roc.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    request = ReenrollmentRequest.objects.create(identity=staff_person, reason="too_few_photos",
                                                 due_at=report.created_at, details={"active_photos": 1})
    kiosk_token, _ = create_token(user=operator, name="fuzz-kiosk", actor=admin)  # not a caller's token
    video, _ = finished_video(identity=staff_person, user=operator)  # track 1 identified (with a crop), 2 unknown
    # A subscription with one delivery (sent nowhere: the fuzz's transaction never commits).
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    subscription, _ = webhook_services.create_subscription(url="http://127.0.0.1:9/fuzz", event_types=["photo.approved"],
                                                           actor=admin)
    webhook_services.emit("photo.approved", {"photo_id": photos[1].pk, "identity_id": staff_person.pk},
                          identity_id=staff_person.pk)
    delivery = Delivery.objects.get(subscription=subscription)
    camera = create_camera(url="rtsp://fuzz:secret@192.0.2.1/live", name="fuzz camera", actor=admin)
    now = timezone.now()
    sighting = record_sighting(camera_id=camera.pk, decision=Decision(staff_person.pk, 0.9, "score", "", None),
                               seen=SeenTrack(first_seen=now, last_seen=now, frames_seen=5,
                                              crop=np.zeros((160, 160, 3), np.uint8)), threshold=0.5)
    return Seeded(path_values={
        "identity_id": [staff_person.pk, own_person.pk], "consent_id": [consent.pk],
        "photo_id": [photo.pk for photo in photos], "report_id": [report.pk], "name": ["roc"],
        "request_id": [request.pk], "task_id": [report.task_id], "token_id": [kiosk_token.pk],
        "video_id": [video.pk], "number": [1, 2], "subscription_id": [subscription.pk],
        "delivery_id": [delivery.pk], "camera_id": [camera.pk], "sighting_id": [sighting.pk]})
