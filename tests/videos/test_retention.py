"""How long video results and files live: expiry, a person's erasure from every result, and the sweep
of jobs a dead worker left (real worker, database and files)."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from audit.models import AuditLog
from enrollment import services as enrollment
from facerec_site.tasks import recover_lost_work
from identities.models import private_storage
from tests.videos.conftest import finished_video, process_through_worker, stored_video, wait_for_video
from videos.models import Video, VideoTrack, video_storage
from videos.services import retention
from videos.tasks import expire_video_results

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_results_older_than_the_retention_period_expire_with_their_crops(enrolled, settings):
    bush = enrolled.people["George_W_Bush"]
    old, old_crops = finished_video(days_ago=settings.FACEREC_VIDEO_RESULT_DAYS + 1, identity=bush)
    old_failed, _ = finished_video(days_ago=settings.FACEREC_VIDEO_RESULT_DAYS + 2, status="failed")
    recent, recent_crops = finished_video(days_ago=settings.FACEREC_VIDEO_RESULT_DAYS - 1, identity=bush)
    running = Video.objects.create(status="processing")
    assert all(private_storage.exists(name) for name in old_crops)

    assert retention.expire_results() == 2

    assert set(Video.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert not VideoTrack.objects.filter(video_id__in=[old.pk, old_failed.pk]).exists()
    assert not any(private_storage.exists(name) for name in old_crops)
    assert all(private_storage.exists(name) for name in recent_crops)
    entry = AuditLog.objects.get(action="video.expire")
    assert entry.details == {"video_ids": sorted([old.pk, old_failed.pk]), "crops": 1,
                             "days": settings.FACEREC_VIDEO_RESULT_DAYS}
    assert retention.expire_results() == 0  # once


def test_the_daily_job_expires_results_in_the_worker(celery_worker, uploader, settings):
    old, _ = finished_video(days_ago=settings.FACEREC_VIDEO_RESULT_DAYS + 1)

    assert expire_video_results.delay().get(timeout=60) == 1
    assert not Video.objects.filter(pk=old.pk).exists()


def test_erasing_a_person_removes_their_tracks_and_crops_from_every_video(celery_worker, enrolled, uploader,
                                                                          clips):
    bush = enrolled.people["George_W_Bush"]
    walk = process_through_worker(clips["walk"].path, user=uploader)
    together = process_through_worker(clips["together"].path, user=uploader)
    theirs = list(VideoTrack.objects.filter(identity=bush))
    assert {t.video_id for t in theirs} == {walk.pk, together.pk}
    crops = [t.crop.name for t in theirs]
    assert all(private_storage.exists(name) for name in crops)

    counts = enrollment.erase_identity(identity=bush, actor=enrolled.owner)

    assert counts["video_tracks"] == 2
    assert not VideoTrack.objects.filter(identity=bush).exists()
    assert not any(private_storage.exists(name) for name in crops)
    # Everyone else's tracks stay: the stranger's (unknown) and Powell's.
    assert VideoTrack.objects.filter(video=walk, identity=None).count() == 1
    assert VideoTrack.objects.filter(video=together, identity=enrolled.people["Colin_Powell"]).count() == 1
    assert AuditLog.objects.get(action="identity.erase").details["video_tracks"] == 2


def orphaned(video: Video, *, attempts: int) -> None:
    """Claimed a minute ago by a worker that no longer answers."""
    Video.objects.filter(pk=video.pk).update(status="processing", attempts=attempts,
                                             started_at=timezone.now() - timedelta(minutes=1))


def test_the_sweep_queues_again_a_video_whose_worker_is_gone(celery_worker, enrolled, uploader, clips):
    video = stored_video(clips["walk"].path, user=uploader)  # its message died with the worker
    orphaned(video, attempts=1)

    swept = recover_lost_work.delay().get(timeout=60)

    assert swept["videos"] == [video.pk]
    done = wait_for_video(video.pk)
    assert (done.status, done.attempts, done.file.name) == ("done", 2, "")
    assert done.tracks.count() == 2


def test_the_sweep_fails_a_video_that_stopped_its_worker_too_often(uploader, clips, settings):
    video = stored_video(clips["walk"].path, user=uploader)
    upload = video.file.name
    orphaned(video, attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS)

    assert retention.requeue_orphaned_videos(held_video_ids=set(), older_than_s=5, pending_after_s=300,
                                             max_attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS) == []

    video.refresh_from_db()
    assert (video.status, video.error_code, video.file.name) == ("failed", "processing_crashed", "")
    assert not video_storage.exists(upload)


def test_the_sweep_leaves_a_video_a_live_worker_holds_or_just_claimed(uploader, clips):
    held, fresh = (stored_video(clips["walk"].path, user=uploader) for _ in range(2))
    orphaned(held, attempts=1)
    Video.objects.filter(pk=fresh.pk).update(status="processing", attempts=1, started_at=timezone.now())

    assert retention.requeue_orphaned_videos(held_video_ids={held.pk}, older_than_s=5, pending_after_s=300,
                                             max_attempts=3) == []

    assert set(Video.objects.values_list("status", flat=True)) == {"processing"}
    assert all(video_storage.exists(v.file.name) for v in Video.objects.all())


def test_the_sweep_deletes_uploads_no_job_will_read(uploader, clips):
    leftover = stored_video(clips["walk"].path, user=uploader)  # finished, but its file survived
    leftover_name = leftover.file.name
    Video.objects.filter(pk=leftover.pk).update(status="done", finished_at=timezone.now())
    waiting = stored_video(clips["walk"].path, user=uploader)
    stray_old = video_storage.save("stray-old.video", ContentFile(b"no row names me"))
    stray_new = video_storage.save("stray-new.video", ContentFile(b"my row is being committed"))
    hours_ago = time.time() - 2 * retention.ORPHANED_FILE_AFTER_S
    os.utime(video_storage.path(stray_old), (hours_ago, hours_ago))

    deleted = retention.delete_leftover_uploads()

    assert sorted(deleted) == sorted([leftover_name, stray_old])
    assert Video.objects.get(pk=leftover.pk).file.name == ""
    assert not video_storage.exists(leftover_name) and not video_storage.exists(stray_old)
    assert video_storage.exists(stray_new) and video_storage.exists(waiting.file.name)
    video_storage.delete(stray_new)
