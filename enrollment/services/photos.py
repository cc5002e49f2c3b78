"""Enrollment photos in: the upload (all or nothing), the processing queue, and the sweeper.

The committed `pending` rows are the outbox: a photo whose task could not be sent stays
pending, and `requeue_stale_photos` sends it once the broker is back.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Collection, Iterable, Sequence

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from core.errors import ConsentRequired, DuplicatePhoto, PhotoRejected
from core.tasks import send_task
from enrollment.services.processing import mark_failed
from enrollment.tasks import process_enrollment_image as process_enrollment_image_task
from identities.models import EnrollmentImage, Identity
from identities.selectors import valid_consent
from identities.services import delete_stored_files, require_active
from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.images import sniff_content_type
from recognition.runtime import decode_image

Status = EnrollmentImage.Status
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    face_box: Sequence[float] | None = None  # the person's face, for a photo that shows several


def _check_upload(upload: Upload) -> str:
    """Decode once to refuse what the pipeline would refuse; returns the content type, sniffed
    from the bytes (the upload's name and declared type are never trusted)."""
    try:
        decode_image(upload.data)
        return sniff_content_type(upload.data)
    except ImageRejected as exc:
        raise PhotoRejected.from_image_rejected(exc, field="photos", label=upload.name, detail={"file": upload.name})


def _face_box(upload: Upload) -> list[float] | None:
    if upload.face_box is None:
        return None
    box = [float(v) for v in upload.face_box]
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[0] >= box[2] or box[1] >= box[3]:
        raise PhotoRejected("face_box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2, in the photo's pixels",
                            code="invalid_face_box", field="face_box")
    return [round(v, 1) for v in box]


def enroll_photos(*, identity: Identity, uploads: Sequence[Upload], actor=None) -> list[EnrollmentImage]:
    """Store the photos and their `pending` rows, then queue one processing task per photo.

    All or nothing: one bad file refuses the whole upload and stores none of it.
    """
    if not uploads:
        raise PhotoRejected("no photo was uploaded", code="empty", field="photos")
    checked = [(upload, _check_upload(upload), hashlib.sha256(upload.data).hexdigest()) for upload in uploads]
    seen: set[str] = set()
    for upload, _, digest in checked:
        if digest in seen:
            raise DuplicatePhoto(f"{upload.name} is in this upload twice", field="photos")
        seen.add(digest)
    stored: list[str] = []
    try:
        with transaction.atomic():
            identity = Identity.objects.select_for_update().get(pk=identity.pk)
            require_active(identity)
            consent = valid_consent(identity)
            if consent is None:
                raise ConsentRequired("enrollment needs a valid consent: record one first "
                                      "(none, expired or withdrawn)", field="consent")
            existing = set(identity.images.filter(sha256__in=seen).values_list("sha256", flat=True))
            for upload, _, digest in checked:
                if digest in existing:
                    raise DuplicatePhoto(f"{upload.name} was already uploaded for this person", field="photos")
            images = []
            for upload, content_type, digest in checked:
                image = EnrollmentImage(identity=identity, consent=consent, sha256=digest,
                                        content_type=content_type, requested_face_box=_face_box(upload),
                                        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None)
                image.file.save("upload", ContentFile(upload.data), save=False)
                stored.append(image.file.name)
                image.save()
                images.append(image)
                audit.record(action="photo.upload", actor=actor, target=image,
                             # No digest of the photo: the log outlives an erasure, and a digest would
                             # still recognise a copy of the erased person's photo.
                             details={"identity_id": identity.pk, "bytes": len(upload.data)})
            ids = [image.pk for image in images]
            transaction.on_commit(lambda: _queue_processing(ids))
    except IntegrityError:
        delete_stored_files(stored)
        raise DuplicatePhoto("a photo was already uploaded for this person", field="photos")
    except BaseException:
        delete_stored_files(stored)  # rolled back: no file without its row
        raise
    return images


def _queue_processing(image_ids: Iterable[int]) -> None:
    """Send one processing task per photo (after commit). A broker that is down is not an error here:
    the photos stay pending for the sweeper. Settings bound the publish retries, so a broker outage
    costs an upload well under a second."""
    ids = list(image_ids)
    for sent, image_id in enumerate(ids):
        # A known task id lets pages and the API show the job's status.
        if not send_task(process_enrollment_image_task, [image_id], task_id=processing_task_id(image_id)):
            # The rest would fail the same way: leave them all to the sweeper.
            log.warning("photos %s stay pending for the sweeper", ids[sent:])
            return


def processing_task_id(image_id: int) -> str:
    return f"enroll-photo-{image_id}"


# --- the sweeper ----------------------------------------------------------------


def requeue_stale_photos(*, pending_after_s: int, processing_after_s: int, max_attempts: int = 3,
                         held_photo_ids: Collection[int] | None = None, orphaned_after_s: float = 0) -> list[int]:
    """Photos left `pending` or stuck in `processing` (a worker died) go back to the queue.

    `processing` is stuck after `processing_after_s` (a hung worker), or, when the recovery sweep
    knows which photos the live workers hold (`held_photo_ids`), as soon as no live worker holds
    it for `orphaned_after_s`: its worker is gone. A photo that was stuck `max_attempts` times is
    set aside as failed (`processing_crashed`): one that crashes the worker every time must not
    be sent to it forever.
    """
    now = timezone.now()
    stuck_filter = Q(processing_started_at__lt=now - timedelta(seconds=processing_after_s))
    if held_photo_ids is not None:
        stuck_filter |= Q(processing_started_at__lt=now - timedelta(seconds=orphaned_after_s)) & ~Q(
            pk__in=list(held_photo_ids))
    stuck_rows = list(EnrollmentImage.objects.filter(stuck_filter, status=Status.PROCESSING)
                      .values_list("pk", "attempts"))
    for pk, attempts in stuck_rows:
        if attempts >= max_attempts:
            mark_failed(pk, f"processing stopped without finishing {attempts} times (the worker crashed or was "
                            "stopped); it is not tried again: upload another photo", code="processing_crashed")
    stuck = [pk for pk, attempts in stuck_rows if attempts < max_attempts
             # only the claim seen stuck: a sweep that ran meanwhile may have handed it on already
             and EnrollmentImage.objects.filter(pk=pk, status=Status.PROCESSING, attempts=attempts).update(
                 status=Status.PENDING, updated_at=now)]
    waiting = list(EnrollmentImage.objects.filter(
        status=Status.PENDING, updated_at__lt=now - timedelta(seconds=pending_after_s),
    ).values_list("pk", flat=True))
    # Re-sent pending photos wait another `pending_after_s` before the next re-send, so a long
    # queue is not flooded with copies of its own messages every sweep.
    EnrollmentImage.objects.filter(pk__in=waiting, status=Status.PENDING).update(updated_at=now)
    ids = sorted(set(stuck) | set(waiting))
    if ids:
        audit.record(action="photo.requeue", details={"image_ids": ids})
        transaction.on_commit(lambda: _queue_processing(ids))
    return ids
