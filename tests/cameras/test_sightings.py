"""Sightings as the watcher writes them (cameras.services.sightings, real database and files): one row per
decided track, a repeat within the cooldown extends it, events in the same transaction, unknown people's
crops only where the camera keeps them, retention, and a person's erasure."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from audit.models import AuditLog
from cameras.models import Sighting
from cameras.services.cameras import create_camera
from cameras.services.sightings import SeenTrack, expire_sightings, record_sighting
from cameras.tasks import expire_sightings as expire_sightings_task
from enrollment import services as enrollment
from identities.models import private_storage
from recognition.services import Decision
from webhooks.models import Event, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

CROP = (np.random.default_rng(0).random((160, 160, 3)) * 255).astype(np.uint8)


@pytest.fixture
def camera(tmp_path, settings):
    settings.FACEREC_CAMERA_FILES = True
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not needed")
    return create_camera(url=str(clip), name="Lobby")


@pytest.fixture
def person(admin):
    return enrollment.create_identity(display_name="Ada", actor=admin)


@pytest.fixture
def listener():
    return Subscription.objects.create(url="https://hooks.example.com/x", secret_encrypted="x",
                                       event_types=["camera.sighting", "camera.unknown", "camera.liveness_failed"])


def seen(at, seconds=2.0, frames=10, crop=CROP) -> SeenTrack:
    return SeenTrack(first_seen=at, last_seen=at + timedelta(seconds=seconds), frames_seen=frames, crop=crop)


def identified(identity_id) -> Decision:
    return Decision(identity_id, 0.91, "score", "", None)


UNKNOWN = Decision(None, 0.12, "score", "below_threshold", None)


def test_a_decided_track_is_one_sighting_audited_and_emitted(camera, person, listener):
    at = timezone.now()
    sighting = record_sighting(camera_id=camera.pk, decision=identified(person.pk), seen=seen(at), threshold=0.5)

    assert (sighting.identity_id, sighting.score, sighting.threshold) == (person.pk, 0.91, 0.5)
    assert sighting.frames_seen == 10
    assert sighting.first_seen == at and sighting.last_seen == at + timedelta(seconds=2)
    assert private_storage.exists(sighting.crop.name)
    assert AuditLog.objects.get(action="camera.sighting").details["identity_id"] == person.pk
    event = Event.objects.get()
    assert event.type == "camera.sighting" and event.identity_id == person.pk
    assert event.payload["camera_id"] == camera.pk and event.payload["sighting_id"] == sighting.pk
    assert event.payload["first_seen"] == at.isoformat()


def test_the_same_person_again_within_the_cooldown_extends_their_sighting(camera, person, listener, settings):
    settings.FACEREC_SIGHTING_COOLDOWN_S = 60
    at = timezone.now()
    first = record_sighting(camera_id=camera.pk, decision=identified(person.pk), seen=seen(at), threshold=0.5)
    again = record_sighting(camera_id=camera.pk, decision=identified(person.pk),
                            seen=seen(at + timedelta(seconds=30)), threshold=0.5)
    later = record_sighting(camera_id=camera.pk, decision=identified(person.pk),
                            seen=seen(at + timedelta(seconds=200)), threshold=0.5)

    assert again.pk == first.pk and later.pk != first.pk
    first.refresh_from_db()
    assert first.last_seen == at + timedelta(seconds=32) and (first.tracks, first.frames_seen) == (2, 20)
    assert Sighting.objects.count() == 2 and Event.objects.count() == 2  # the extension is no new event


def test_unknown_people_are_recorded_without_their_crop_unless_the_camera_keeps_it(camera, listener, settings):
    plain = record_sighting(camera_id=camera.pk, decision=UNKNOWN, seen=seen(timezone.now()), threshold=0.5)
    camera.keep_unknown_crops = True
    camera.save()
    kept = record_sighting(camera_id=camera.pk, decision=UNKNOWN, seen=seen(timezone.now()), threshold=0.5)
    camera.record_unknown = False
    camera.save()
    none = record_sighting(camera_id=camera.pk, decision=UNKNOWN, seen=seen(timezone.now()), threshold=0.5)

    assert not plain.crop and plain.reason == "below_threshold" and plain.crop_expires_at is None
    assert kept.crop and private_storage.exists(kept.crop.name)
    expected = timezone.now() + timedelta(hours=settings.FACEREC_UNKNOWN_CROP_HOURS)
    assert abs((kept.crop_expires_at - expected).total_seconds()) < 60
    assert none is None
    assert list(Event.objects.values_list("type", flat=True)) == ["camera.unknown", "camera.unknown"]


def test_a_failed_liveness_check_is_its_own_event(camera, listener):
    decision = Decision(None, None, "", "liveness_failed", {"score": 0.1, "is_live": False})
    sighting = record_sighting(camera_id=camera.pk, decision=decision, seen=seen(timezone.now()), threshold=0.5)

    assert sighting.reason == "liveness_failed" and not sighting.crop
    event = Event.objects.get()
    assert event.type == "camera.liveness_failed" and event.payload["liveness_score"] == 0.1


def test_an_erased_person_is_not_written_and_erasure_removes_their_sightings(camera, person, admin):
    other = enrollment.create_identity(display_name="Bob", actor=admin)
    theirs = record_sighting(camera_id=camera.pk, decision=identified(person.pk), seen=seen(timezone.now()),
                             threshold=0.5)
    kept = record_sighting(camera_id=camera.pk, decision=identified(other.pk), seen=seen(timezone.now()),
                           threshold=0.5)

    counts = enrollment.erase_identity(identity=person, actor=admin)

    assert counts["camera_sightings"] == 1
    assert not Sighting.objects.filter(identity=person).exists()
    assert not private_storage.exists(theirs.crop.name)
    assert Sighting.objects.filter(pk=kept.pk).exists() and private_storage.exists(kept.crop.name)
    late = record_sighting(camera_id=camera.pk, decision=identified(person.pk), seen=seen(timezone.now()),
                           threshold=0.5)
    assert late.identity_id is None and late.reason == "identity_erased" and not late.crop


def test_old_sightings_and_unknown_crops_expire(camera, person, settings):
    camera.keep_unknown_crops = True
    camera.save()
    now = timezone.now()
    old = record_sighting(camera_id=camera.pk, decision=identified(person.pk),
                          seen=seen(now - timedelta(days=settings.FACEREC_SIGHTING_DAYS + 1)), threshold=0.5)
    recent = record_sighting(camera_id=camera.pk, decision=identified(person.pk), seen=seen(now), threshold=0.5)
    unknown = record_sighting(camera_id=camera.pk, decision=UNKNOWN, seen=seen(now), threshold=0.5)

    assert expire_sightings(now=now) == {"sightings": 1, "crops": 0}
    later = now + timedelta(hours=settings.FACEREC_UNKNOWN_CROP_HOURS + 1)
    assert expire_sightings(now=later) == {"sightings": 0, "crops": 1}

    assert not Sighting.objects.filter(pk=old.pk).exists() and not private_storage.exists(old.crop.name)
    unknown.refresh_from_db()
    assert not unknown.crop and Sighting.objects.filter(pk=unknown.pk).exists()
    assert private_storage.exists(Sighting.objects.get(pk=recent.pk).crop.name)
    assert AuditLog.objects.filter(action="sighting.expire").count() == 2


@pytest.mark.worker
def test_the_beat_job_expires_sightings_in_the_worker(celery_worker, camera, person, settings):
    old = record_sighting(camera_id=camera.pk, decision=identified(person.pk),
                          seen=seen(timezone.now() - timedelta(days=settings.FACEREC_SIGHTING_DAYS + 1)),
                          threshold=0.5)

    assert expire_sightings_task.delay().get(timeout=60) == {"sightings": 1, "crops": 0}
    assert not Sighting.objects.filter(pk=old.pk).exists()
