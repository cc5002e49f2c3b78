"""The stale-work sweeper: photos a dead worker left behind go back to the queue, a few times only.

Real database; the `db` fixture, so the re-queue's dispatch (on commit) is never sent.
The worker-level behaviour (a re-queued photo is processed) is in test_workflow.py and
tests/resilience/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from enrollment import services
from identities.models import EnrollmentImage
from tests.shared_data import LFW_IMAGES

pytestmark = pytest.mark.django_db


def stuck_photo(name: str, *, attempts: int) -> EnrollmentImage:
    """A photo a worker claimed an hour ago (its `attempts`-th claim) and never finished."""
    person = services.create_identity(display_name=name)
    services.record_consent(identity=person, given_by_name=name, purpose="test", wording_version="v1")
    data = (LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0001.jpg").read_bytes()
    [image] = services.enroll_photos(identity=person, uploads=[services.Upload("a.jpg", data)])
    EnrollmentImage.objects.filter(pk=image.pk).update(
        status="processing", attempts=attempts, processing_started_at=timezone.now() - timedelta(hours=1))
    return image


def test_a_photo_stuck_fewer_times_than_the_limit_is_queued_again():
    image = stuck_photo("Once", attempts=1)

    requeued = services.requeue_stale_photos(pending_after_s=300, processing_after_s=900, max_attempts=3)

    assert requeued == [image.pk]
    assert EnrollmentImage.objects.get(pk=image.pk).status == "pending"


def test_a_photo_that_stopped_the_worker_too_often_is_set_aside_as_failed():
    image = stuck_photo("Poison", attempts=3)
    healthy = stuck_photo("Healthy", attempts=2)

    requeued = services.requeue_stale_photos(pending_after_s=300, processing_after_s=900, max_attempts=3)

    assert requeued == [healthy.pk]
    failed = EnrollmentImage.objects.get(pk=image.pk)
    assert failed.status == "failed" and failed.rejection_reason == "processing_crashed"
    assert "3 times" in failed.rejection_detail
    entry = AuditLog.objects.filter(action="photo.process", target_id=str(image.pk)).latest("id")
    assert entry.details == {"status": "failed", "reason": "processing_crashed"}
    # A later sweep leaves it alone.
    assert services.requeue_stale_photos(pending_after_s=0, processing_after_s=0, max_attempts=3) == [healthy.pk]
    assert EnrollmentImage.objects.get(pk=image.pk).status == "failed"


def test_a_photo_still_within_its_processing_time_is_left_to_its_worker():
    image = stuck_photo("Busy", attempts=5)
    EnrollmentImage.objects.filter(pk=image.pk).update(processing_started_at=timezone.now())

    assert services.requeue_stale_photos(pending_after_s=300, processing_after_s=900, max_attempts=3) == []
    assert EnrollmentImage.objects.get(pk=image.pk).status == "processing"
