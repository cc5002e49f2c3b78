"""How long video results and files live: expiry after FACEREC_VIDEO_RESULT_DAYS, a person's erasure
from every result, and the sweep of jobs whose worker died (with the uploads they left behind)."""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import services as audit
from core.tasks import enqueue_on_commit
from identities.services import delete_stored_files
from videos.models import Video, VideoTrack, video_storage
from videos.services.processing import delete_upload, fail_video
from videos.tasks import process_video as process_video_task

Status = Video.Status
FINISHED = (Status.DONE, Status.FAILED)
# A file in the video storage that no row names, this old, is an upload whose row was never
# committed (a request that failed after storing it): far longer than any upload takes.
ORPHANED_FILE_AFTER_S = 3600


def _crops_of(tracks) -> list[str]:
    return [name for name in tracks.exclude(crop="").values_list("crop", flat=True) if name]


@transaction.atomic
def expire_results(*, now=None) -> int:
    """Videos finished more than FACEREC_VIDEO_RESULT_DAYS ago go: rows, tracks and crops (and any file
    left). Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FACEREC_VIDEO_RESULT_DAYS)
    ids = list(Video.objects.select_for_update(skip_locked=True).filter(
        status__in=FINISHED, finished_at__lt=cutoff).values_list("pk", flat=True))
    if not ids:
        return 0
    crops = _crops_of(VideoTrack.objects.filter(video_id__in=ids))
    uploads = [name for name in Video.objects.filter(pk__in=ids).exclude(file="").values_list("file", flat=True)]
    Video.objects.filter(pk__in=ids).delete()
    audit.record(action="video.expire", details={"video_ids": sorted(ids), "crops": len(crops),
                                                 "days": settings.FACEREC_VIDEO_RESULT_DAYS})
    transaction.on_commit(lambda: _delete_files(crops, uploads))
    return len(ids)


def _delete_files(crops: list[str], uploads: list[str]) -> None:
    delete_stored_files(crops)
    for name in uploads:
        delete_upload(name)


@transaction.atomic
def forget_identity(identity_id: int) -> int:
    """Erasure: that person's tracks, and their crops, go from every video result. Returns how many tracks.
    Called inside erase_identity's transaction; the files go once it commits."""
    tracks = VideoTrack.objects.filter(identity_id=identity_id)
    crops = _crops_of(tracks)
    count = tracks.delete()[0]
    transaction.on_commit(lambda: delete_stored_files(crops))
    return count


def requeue_orphaned_videos(*, held_video_ids: Collection[int], older_than_s: float, max_attempts: int,
                            pending_after_s: float) -> list[int]:
    """The recovery sweep's part for videos; returns the ids queued again.

    A video `processing` that no live worker holds (its worker died) is queued again, or fails
    `processing_crashed` (its upload deleted) once it was claimed `max_attempts` times: a file
    that kills the worker must not be sent to it forever. A video left `pending` longer than
    `pending_after_s` (its message was lost) is sent again. A finished video's leftover upload is
    deleted, and so are stored files no row names.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    with transaction.atomic():
        orphaned = list(Video.objects.select_for_update(skip_locked=True).filter(
            status=Status.PROCESSING, started_at__lt=cutoff).exclude(
            pk__in=list(held_video_ids)).values_list("pk", "attempts"))
    for pk, attempts in orphaned:
        if attempts >= max_attempts:
            fail_video(pk, code="processing_crashed", claim=attempts, detail=(
                f"processing stopped without finishing {attempts} times (the worker crashed or was stopped); "
                "it is not tried again"))
    with transaction.atomic():
        # Only the claim seen orphaned: a run that claimed it meanwhile keeps it.
        again = [pk for pk, attempts in orphaned if attempts < max_attempts
                 and Video.objects.filter(pk=pk, status=Status.PROCESSING, attempts=attempts).update(
                     status=Status.PENDING, updated_at=timezone.now())]
        waiting = list(Video.objects.filter(status=Status.PENDING, updated_at__lt=timezone.now() - timedelta(
            seconds=pending_after_s)).values_list("pk", flat=True))
        # Sent again at most once per `pending_after_s`, so a long queue is not flooded with copies.
        Video.objects.filter(pk__in=waiting, status=Status.PENDING).update(updated_at=timezone.now())
        ids = sorted(set(again) | set(waiting))
        if ids:
            audit.record(action="video.requeue", details={"video_ids": ids, "orphaned": sorted(again)})
        for pk in ids:
            enqueue_on_commit(process_video_task, [pk])
    delete_leftover_uploads()
    return ids


def delete_leftover_uploads(*, orphaned_after_s: float = ORPHANED_FILE_AFTER_S) -> list[str]:
    """Uploads no job will read: a finished video's file (its job died between finishing and deleting it),
    and files no row names that are older than `orphaned_after_s`. Returns the names deleted."""
    deleted = []
    for pk, name in Video.objects.filter(status__in=FINISHED).exclude(file="").values_list("pk", "file"):
        if Video.objects.filter(pk=pk, status__in=FINISHED, file=name).update(file=""):
            delete_upload(name)
            deleted.append(name)
    try:
        _, names = video_storage.listdir("")
    except FileNotFoundError:  # nothing was ever uploaded
        return deleted
    cutoff = time.time() - orphaned_after_s
    named = set(Video.objects.filter(file__in=names).values_list("file", flat=True))
    for name in names:
        if name not in named and _modified_before(video_storage.path(name), cutoff):
            delete_upload(name)
            deleted.append(name)
    return deleted


def _modified_before(path: str, cutoff: float) -> bool:
    try:
        return os.stat(path).st_mtime < cutoff
    except FileNotFoundError:
        return False
