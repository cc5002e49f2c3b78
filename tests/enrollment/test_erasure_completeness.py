"""After an erasure, no store keeps the person: every table, the media folder, the broker's
database (Celery results, queues, the cache), and every classifier artifact, current or older.

The person is given markers nobody else has (name, external reference, attribute value,
contact address, who consented) and is made to leave traces everywhere a real one would:
photos processed by the worker, approved templates and a classifier trained on them,
an identification and a verification, a re-enrollment request, and another person's
photo flagged as looking like them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.apps import apps

from enrollment import services
from identities.models import EnrollmentImage, Identity, private_storage
from recognition import services as recognition
from recognition.models import ClassifierVersion, FaceEmbedding
from recognition.runtime import decode_image
from tests.enrollment.test_workflow import photo, wait_until_processed
from tests.shared_data import LFW_IMAGES

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MARKERS = ("Zelda Quartermain", "EMP-7731-ZQ", "cohort-zq-2026", "zq.owner@example.org", "Quartermain Guardian")


def wait_for_ready_classifier(timeout_s: float = 120) -> ClassifierVersion:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = ClassifierVersion.objects.filter(current=True, status="ready").first()
        if current is not None and ClassifierVersion.objects.filter(status__in=["pending", "training"]).count() == 0:
            return current
        time.sleep(0.5)
    raise AssertionError("no classifier became ready")


def database_text() -> str:
    """Every row of every table the models map, as text."""
    chunks = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:  # table-less (capabilities) or another's table
            continue
        chunks.append(json.dumps(list(model.objects.values()), default=str))
    return "\n".join(chunks)


def broker_text(app) -> str:
    """Every value in the broker's test database: Celery results, queued messages, the cache."""
    client = app.backend.client  # the result backend's Redis client, on the broker's test database
    chunks = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            chunks.append(repr(client.get(key)))
        elif kind == "list":
            chunks.append(repr(client.lrange(key, 0, -1)))
        elif kind == "hash":
            chunks.append(repr(client.hgetall(key)))
        elif kind == "set":
            chunks.append(repr(client.smembers(key)))
        elif kind == "zset":
            chunks.append(repr(client.zrange(key, 0, -1)))
    return "\n".join(chunks)


def test_an_erased_person_is_in_no_table_file_broker_entry_or_classifier(celery_worker, admin_user,
                                                                        celery_app_for_tests, settings):
    settings.FACEREC_RETRAIN_DELAY_S = 3  # one training for the gallery below
    zelda = services.create_identity(display_name=MARKERS[0], external_ref=MARKERS[1],
                                     attributes={"cohort": MARKERS[2]}, contact_email=MARKERS[3], actor=admin_user)
    services.record_consent(identity=zelda, given_by_name=MARKERS[4], given_by="guardian", purpose="access",
                            wording_version="v1", actor=admin_user)
    other = services.create_identity(display_name="Colin Powell", actor=admin_user)
    services.record_consent(identity=other, given_by_name="Colin Powell", purpose="access", wording_version="v1",
                            actor=admin_user)
    hers = services.enroll_photos(identity=zelda, uploads=[photo("George_W_Bush", n) for n in (1, 2, 3)])
    his = services.enroll_photos(identity=other, uploads=[photo("Colin_Powell", n) for n in (1, 2, 3)])
    wait_until_processed([i.pk for i in hers + his])
    services.approve_photos(image_ids=[i.pk for i in hers + his], actor=admin_user)
    before = wait_for_ready_classifier()
    assert str(zelda.pk) in (Path(before.artifact_dir) / "classifier.json").read_text()
    # Traces of use: a match score each, a re-enrollment request, and a newcomer's photo flagged as her.
    probe = decode_image((LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0010.jpg").read_bytes())
    assert zelda.pk in [f.identity_id for f in recognition.identify(image=probe, actor=admin_user).faces]
    assert recognition.verify_identity(image=probe, identity=zelda, actor=admin_user).match
    from reenrollment.models import ReenrollmentRequest

    from django.utils import timezone

    ReenrollmentRequest.objects.create(identity=zelda, reason="drift", details={"median": 0.4},
                                       due_at=timezone.now())
    newcomer = services.create_identity(display_name="Newcomer", actor=admin_user)
    services.record_consent(identity=newcomer, given_by_name="Newcomer", purpose="access", wording_version="v1",
                            actor=admin_user)
    [lookalike] = services.enroll_photos(identity=newcomer, uploads=[photo("George_W_Bush", 4)])
    wait_until_processed([lookalike.pk])
    lookalike.refresh_from_db()
    assert lookalike.quality["possible_duplicate"]["identity_id"] == zelda.pk
    files = [f.name for image in EnrollmentImage.objects.filter(identity=zelda) for f in (image.file, image.crop)]
    assert len(files) == 6 and all(private_storage.exists(name) for name in files)

    services.erase_identity(identity=zelda, actor=admin_user)
    deadline = time.monotonic() + 120  # the urgent retrain replaces the classifier, the old files go
    while time.monotonic() < deadline and (
            ClassifierVersion.objects.filter(current=True).first().pk == before.pk
            or Path(before.artifact_dir).exists()):
        time.sleep(0.5)

    text = database_text()
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} is still in the database"
    assert not FaceEmbedding.objects.filter(identity_id=zelda.pk).exists()
    assert not EnrollmentImage.objects.filter(identity_id=zelda.pk).exists()
    lookalike.refresh_from_db()
    assert lookalike.quality["possible_duplicate"] is None  # the flag forgot whom it pointed at
    assert Identity.objects.get(pk=zelda.pk).status == "erased"

    assert not any(private_storage.exists(name) for name in files)
    media = Path(settings.MEDIA_ROOT)
    assert not any(Path(name).name in {p.name for p in media.rglob("*")} for name in files)

    stored = broker_text(celery_app_for_tests)
    assert "enroll-photo" in stored or "celery-task-meta" in stored  # it did read the results
    for marker in MARKERS:
        assert marker not in stored, f"{marker!r} is still in the broker's database"

    # One person is left: the retrain after the erasure is `skipped` (similarity alone), and the
    # classifier that knew her is deleted; whatever artifact is left must not know her either.
    assert not Path(before.artifact_dir).exists()
    assert ClassifierVersion.objects.get(current=True).status == "skipped"
    for path in Path(settings.FACEREC_CLASSIFIERS_DIR).glob("*/classifier.json"):
        assert str(zelda.pk) not in json.loads(path.read_text())["labels"]
