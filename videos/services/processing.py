"""Processing a claimed video (run by the worker): decode and track the faces, decide each track once
as identify decides a face, store the tracks, and delete the upload whatever the outcome.

Claims are conditional updates (pending -> processing, attempts + 1), as for enrollment photos:
a second delivery of the task changes nothing, and a run whose claim was superseded (the sweeper
judged its worker dead and queued the video again) writes nothing, not even its progress.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone

from audit import services as audit
from core.errors import DomainError
from core.pictures import png_bytes
from core.tasks import TRANSIENT_ERRORS
from identities.models import Identity
from identities.services import delete_stored_files
from recognition.models import RecognitionThreshold
from recognition.pipeline.video import Progress, Track, VideoRejected, VideoResult, track_video
from recognition.runtime import get_pipeline
from recognition.selectors import threshold_for
from recognition.services import Decision, current_gallery, decide_track, liveness_policy
from videos.models import Video, VideoTrack, video_storage
from webhooks.services import emit

Status = Video.Status
log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # the row's progress is written at most this often (one cheap UPDATE)
# Sampled frames detected and embedded together: more on a GPU, which gains from larger batches; on CPU,
# 16 was ~10% faster than 8 for ~40 MiB more (bench/video_bench.py), so 8 keeps a worker small.
BATCH_FRAMES = {"cuda": 32, "cpu": 8}
PROCESSING_ERROR = "processing_error"
# An identified person erased while their video was being decided: the track is not theirs to keep.
IDENTITY_ERASED = "identity_erased"


class ClaimLost(Exception):
    """This run's claim is no longer the video's: stop, write nothing."""


def claim_for_processing(video_id: int) -> bool:
    """pending -> processing, by a conditional update: a second runner gets False."""
    now = timezone.now()
    return bool(Video.objects.filter(pk=video_id, status=Status.PENDING).update(
        status=Status.PROCESSING, started_at=now, attempts=models.F("attempts") + 1, progress=0.0,
        frames_decoded=0, faces_found=0, updated_at=now))


def _claimed(video_id: int, claim: int):
    return Video.objects.filter(pk=video_id, status=Status.PROCESSING, attempts=claim)


def delete_upload(name: str) -> None:
    """The uploaded file goes (a no-op when it is gone already)."""
    if name:
        video_storage.delete(name)


def process_video(video_id: int) -> str | None:
    """Decode, track and decide a claimed video; the upload is deleted when the job ends.

    Returns the new status, or None when the video was not ours to process (claimed by
    another run, or its claim superseded meanwhile). A bad file ends `failed` with the
    decoder's reason; transient errors (TRANSIENT_ERRORS) give the claim back and propagate so
    the task retries them (the task fails the video, and deletes the file, when it gives
    up); any other error fails the video (`processing_error`).
    """
    if not claim_for_processing(video_id):
        return None
    video = Video.objects.select_related("uploaded_by").get(pk=video_id)
    claim = video.attempts  # a later claim (the sweeper judged this one lost) makes this run's results void
    try:
        return _process_claimed(video, claim)
    except ClaimLost:
        return None
    except TRANSIENT_ERRORS:
        # Give the claim back (if it is still this run's) so the retry, or the sweep, takes it again.
        _claimed(video_id, claim).update(status=Status.PENDING, updated_at=timezone.now())
        raise
    except DomainError as exc:  # e.g. liveness_unavailable: the `enforce` policy's check cannot run
        fail_video(video_id, code=exc.code, detail=exc.message, claim=claim)
        return Status.FAILED
    except Exception as exc:
        # As enrollment logs a failed photo: the error and its traceback; no frame, crop or embedding is
        # ever handed to the logger.
        log.error("processing video %s failed: %s", video_id, type(exc).__name__, exc_info=True)
        fail_video(video_id, code=PROCESSING_ERROR, detail=f"{type(exc).__name__}: {exc}", claim=claim)
        return Status.FAILED


class _ProgressWriter:
    """on_progress for track_video: the row's progress, at most every PROGRESS_EVERY_S, only while the claim
    is this run's (a lost claim stops the run)."""

    def __init__(self, video_id: int, claim: int):
        self.video_id, self.claim, self.last = video_id, claim, 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        if not _claimed(self.video_id, self.claim).update(
                progress=round(min(max(progress.share, 0.0), 1.0), 4), frames_decoded=progress.frames_decoded,
                faces_found=progress.faces_found):
            raise ClaimLost()


def _process_claimed(video: Video, claim: int) -> str | None:
    pipeline = get_pipeline()
    policy = liveness_policy()
    try:
        result = track_video(video.file.path, pipeline, sample_fps=settings.FACEREC_VIDEO_SAMPLE_FPS,
                             max_pixels=settings.FACEREC_MAX_IMAGE_PIXELS, keep_best_frames=policy != "off",
                             batch_frames=BATCH_FRAMES.get(pipeline.embedder.device, 8),
                             on_progress=_ProgressWriter(video.pk, claim))
    except VideoRejected as exc:
        updated = fail_video(video.pk, code=exc.reason, detail=exc.detail, claim=claim)
        return Status.FAILED if updated else None
    model_version = pipeline.embedder.model_info.version
    threshold, _ = threshold_for(RecognitionThreshold.Kind.IDENTIFY, None, model_version)
    gallery = current_gallery(model_version)
    decisions = [decide_track(track, gallery=gallery, threshold=threshold, policy=policy) for track in result.tracks]
    return _store_results(video, claim, result, decisions, model_version=model_version, threshold=threshold)


def _track_row(video: Video, track: Track, decision: Decision) -> VideoTrack:
    row = VideoTrack(
        video=video, number=track.number, identity_id=decision.identity_id,
        score=None if decision.score is None else round(float(decision.score), 4), decided_by=decision.decided_by,
        reason=decision.reason, first_seen_s=round(track.first_seen_s, 3), last_seen_s=round(track.last_seen_s, 3),
        frames_seen=track.frames_seen, best_time_s=round(track.best.time_s, 3),
        best_box=[round(float(v), 1) for v in track.best.detection.box], liveness=decision.liveness)
    if decision.identity_id is not None:  # people who consented only; encrypted by private_storage
        row.crop.save("crop", ContentFile(png_bytes(track.best_crop)), save=False)
    return row


def _store_results(video: Video, claim: int, result: VideoResult, decisions: list[Decision], *,
                   model_version: str, threshold: float) -> str | None:
    crops: list[str] = []
    try:
        with transaction.atomic():
            locked = Video.objects.select_for_update().filter(pk=video.pk).first()
            if locked is None or locked.status != Status.PROCESSING or locked.attempts != claim:
                return None  # re-queued (and perhaps claimed again) meanwhile: its upload stays for that run
            # Erasure locks the person first: an erasure that came first leaves them erased here, one that
            # comes later waits for this commit and then deletes these tracks with the rest.
            identified = {d.identity_id for d in decisions if d.identity_id is not None}
            active = set(Identity.objects.select_for_update().filter(
                pk__in=identified, status=Identity.Status.ACTIVE).values_list("pk", flat=True))
            for decision in decisions:
                if decision.identity_id is not None and decision.identity_id not in active:
                    decision.identity_id, decision.reason = None, IDENTITY_ERASED
            rows = []
            for track, decision in zip(result.tracks, decisions):
                rows.append(_track_row(locked, track, decision))
                if rows[-1].crop:
                    crops.append(rows[-1].crop.name)
            VideoTrack.objects.bulk_create(rows)
            upload = locked.file.name
            info = result.info
            locked.container, locked.codec = info.container[:50], info.codec[:50]
            locked.width, locked.height, locked.duration_s = info.width, info.height, info.duration_s
            locked.sample_fps, locked.frames_decoded, locked.faces_found = (
                result.sample_fps, result.frames_decoded, result.faces_found)
            locked.progress, locked.model_version, locked.threshold = 1.0, model_version, threshold
            locked.status, locked.finished_at, locked.file = Status.DONE, timezone.now(), ""
            locked.error_code = locked.error_detail = ""
            locked.save()
            ids = [d.identity_id for d in decisions if d.identity_id is not None]
            audit.record(action="video.process", actor=locked.uploaded_by, target=locked, details={
                "status": Status.DONE, "uploaded_by": locked.uploaded_by_id, "tracks": len(rows),
                "identified": sorted(set(ids)), "unknown": len(rows) - len(ids)})
            emit("video.finished", {"video_id": locked.pk, "status": Status.DONE, "track_count": len(rows),
                                    "identified_count": len(ids)})
            transaction.on_commit(lambda: delete_upload(upload))
    except BaseException:
        delete_stored_files(crops)  # written before a rollback: no row names them
        raise
    return Status.DONE


def fail_video(video_id: int, *, code: str, detail: str, claim: int | None = None, only_pending: bool = False) -> bool:
    """The video is `failed` with the reason and its upload is deleted: while `claim` (when given) is still
    its claim, and, with `only_pending`, only if no run holds it (a task that gave up after retries).
    Returns whether it was failed here."""
    with transaction.atomic():
        rows = Video.objects.select_for_update().filter(
            pk=video_id, status__in=[Status.PENDING] if only_pending else [Status.PENDING, Status.PROCESSING])
        if claim is not None:
            rows = rows.filter(attempts=claim)
        video = rows.first()
        if video is None:
            return False
        upload = video.file.name
        video.status, video.error_code, video.error_detail = Status.FAILED, code[:50], detail[:2000]
        video.finished_at, video.file = timezone.now(), ""
        video.save()
        audit.record(action="video.process", actor=video.uploaded_by, target=video, details={
            "status": Status.FAILED, "reason": video.error_code, "uploaded_by": video.uploaded_by_id})
        emit("video.failed", {"video_id": video.pk, "status": Status.FAILED, "reason": video.error_code})
        transaction.on_commit(lambda: delete_upload(upload))
    return True
