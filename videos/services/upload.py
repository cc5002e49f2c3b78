"""A video in: what is not a video is refused at once (probed from its header), the file is stored in
private storage, its `pending` row written and its job queued once that commits.

The upload is never read whole: Django spools a large one to a temporary file while it is received
(held to FACEREC_MAX_VIDEO_BYTES there, by core.upload_limits), the probe reads its header from that
file, and storing it moves the file (or copies it in chunks).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from audit import services as audit
from core.errors import DomainError, UnsupportedMediaType, UploadTooLarge
from core.tasks import enqueue_on_commit
from recognition.pipeline.errors import EMPTY, NOT_AN_IMAGE, ImageRejected
from recognition.pipeline.images import sniff_content_type
from recognition.pipeline.video import VideoInfo, VideoRejected, probe_video
from videos.models import Video
from videos.tasks import process_video as process_video_task

log = logging.getLogger(__name__)

FIELD = "video"
# What FFmpeg cannot take as a video at all: the wrong kind of file (415), not a bad video (400).
NOT_A_VIDEO = frozenset({"not_a_video", "no_video_stream"})
# FFmpeg opens a photo as a one-frame video (its image demuxers); this endpoint takes none.
STILL_IMAGE_CONTAINERS = ("image2",)
HEAD_BYTES = 256 * 1024  # enough for an image's header (EXIF included) to be recognised


def processing_task_id(video_id: int) -> str:
    """The job's Celery task id: known in advance, so the pages and the API can point at its status."""
    return f"process-video-{video_id}"


def rejection_error(exc: VideoRejected, *, name: str = "") -> DomainError:
    """The answer to a file the probe refused: 415 `unsupported_media_type` when it is no video at all;
    otherwise 400 with the reason as its code (`resolution_too_large`: the header asks for more pixels than
    FACEREC_MAX_IMAGE_PIXELS; the file's size is not at fault, so not 413, as for a photo's pixels)."""
    message = f"{name}: {exc.detail}" if name else exc.detail
    if exc.reason in NOT_A_VIDEO:
        return UnsupportedMediaType(message, field=FIELD, detail={"reason": exc.reason})
    return DomainError(message, code=exc.reason, field=FIELD, detail={"reason": exc.reason})


def upload_video(*, user, uploaded_file: UploadedFile) -> Video:
    """Probe, store, write the `pending` row and its `video.upload` audit entry; queue the job on commit.

    Raises UnsupportedMediaType (415) for what is not a video, DomainError (400) for a video refused from its
    header, UploadTooLarge (413) past FACEREC_MAX_VIDEO_BYTES; nothing is stored then.
    """
    name = os.path.basename(uploaded_file.name or "")[:255]
    limit = settings.FACEREC_MAX_VIDEO_BYTES
    if uploaded_file.size > limit:  # the receiving handlers stop it first; this guards other callers
        raise UploadTooLarge(f"{name}: more than the limit of {limit} bytes", field=FIELD)
    info = _probe(uploaded_file, name)
    actor = user if getattr(user, "is_authenticated", False) else None
    video = Video(uploaded_by=actor, original_name=name, size_bytes=uploaded_file.size, container=info.container,
                  codec=info.codec, width=info.width, height=info.height, duration_s=info.duration_s)
    try:
        with transaction.atomic():
            video.file.save("upload", uploaded_file, save=False)
            video.save()
            # No name of the file: the log outlives the video, and a name may say who is in it.
            audit.record(action="video.upload", actor=actor, target=video,
                         details={"bytes": video.size_bytes, "duration_s": info.duration_s})
            # Broker down: the row stays pending for the jobs' sweeper, and the upload still succeeds.
            enqueue_on_commit(process_video_task, [video.pk], task_id=processing_task_id(video.pk))
    except BaseException:
        if video.file.name:
            video.file.storage.delete(video.file.name)  # rolled back: no file without its row
        raise
    return video


def _probe(uploaded_file: UploadedFile, name: str) -> VideoInfo:
    if _is_still_image(uploaded_file):
        raise UnsupportedMediaType(f"{name}: this is a photo, not a video (use identify for a photo)",
                                   field=FIELD, detail={"reason": "not_a_video"})
    with _on_disk(uploaded_file) as path:
        try:
            info = probe_video(path, max_pixels=settings.FACEREC_MAX_IMAGE_PIXELS)
        except VideoRejected as exc:
            log.info("video upload refused: %s", exc.reason)
            raise rejection_error(exc, name=name) from None
    if info.container in STILL_IMAGE_CONTAINERS or info.container.endswith("_pipe"):
        raise UnsupportedMediaType(f"{name}: this is a still image ({info.codec}), not a video", field=FIELD,
                                   detail={"reason": "not_a_video"})
    return info


def _is_still_image(uploaded_file: UploadedFile) -> bool:
    """Whether the file starts like a photo (JPEG, PNG, WebP, GIF, ...): its header, never its name."""
    uploaded_file.seek(0)
    head = uploaded_file.read(HEAD_BYTES)
    uploaded_file.seek(0)
    try:
        sniff_content_type(head)
    except ImageRejected as exc:
        # Not recognised (or nothing): let FFmpeg judge it. Any other refusal names an image format.
        return exc.reason not in (NOT_AN_IMAGE, EMPTY)
    return True


@contextmanager
def _on_disk(uploaded_file: UploadedFile) -> Iterator[str]:
    """A path FFmpeg can open: the temporary file Django spooled a large upload to, else (a small upload
    held in memory) a temporary copy written in chunks."""
    if hasattr(uploaded_file, "temporary_file_path"):
        yield uploaded_file.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile(prefix="video-probe-", dir=settings.FILE_UPLOAD_TEMP_DIR) as copy:
        for chunk in uploaded_file.chunks():
            copy.write(chunk)
        copy.flush()
        uploaded_file.seek(0)
        yield copy.name
