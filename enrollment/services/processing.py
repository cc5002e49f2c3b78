"""Processing a claimed photo (run by the worker): detect, check quality and liveness, crop, embed.

The result awaits review. Claims are conditional updates, so a second delivery of the task, or
a run the sweeper judged lost, changes nothing. A reviewer's choice of another face in a group
photo (`choose_face`) redoes the same checks for that face.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone

from audit import services as audit
from core.errors import DomainError, InvalidTransition
from core.pictures import png_bytes
from core.tasks import TRANSIENT_ERRORS
from identities.models import EnrollmentImage
from identities.services import delete_stored_files, require_active
from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.quality import assess_quality, face_at, preselect_face
from recognition.runtime import get_pipeline, quality_thresholds
from recognition.selectors import possible_duplicate, templates_of_photos
from recognition.services import (
    check_liveness,
    deactivate_templates,
    embed_face,
    failed_liveness,
    read_photo_faces,
    store_embedding,
)
from webhooks.services import emit

Status = EnrollmentImage.Status
log = logging.getLogger(__name__)

def claim_for_processing(image_id: int) -> bool:
    """pending -> processing, by a conditional update: a second runner gets False."""
    return bool(EnrollmentImage.objects.filter(pk=image_id, status=Status.PENDING).update(
        status=Status.PROCESSING, processing_started_at=timezone.now(), attempts=models.F("attempts") + 1,
        updated_at=timezone.now()))


@dataclass
class _FaceOutcome:
    """What the checks made of one face of a photo: accepted (crop and embedding) or rejected (code)."""

    detection: Any
    figures: dict
    liveness: dict | None = None
    rejection: tuple[str, str] | None = None  # (code, detail)
    crop: Any = None
    embedding: Any = None
    duplicate: dict | None = None


def _similarity_to_person(image: EnrollmentImage, embeddings) -> list[float] | None:
    """Each face's best cosine to the person's other photos' templates, or None when there are none."""
    vectors = templates_of_photos(image.identity.images.exclude(pk=image.pk).filter(
        status__in=[Status.APPROVED, Status.AWAITING_REVIEW]).values_list("pk", flat=True))
    if vectors is None:
        return None
    return [float(max(vectors @ e)) for e in embeddings]


def _person_face(image: EnrollmentImage, pixels, detections, thresholds, pipeline):
    """(the face to check, the significant faces when several show, the chosen face's embedding when it was
    computed to choose it); a face named at upload that is not found gives (None, faces, None)."""
    significant = [d for d in detections if thresholds.significant(d)]
    several = significant if len(significant) > 1 else []
    if image.requested_face_box:
        return face_at(detections, image.requested_face_box), several, None
    if thresholds.policy != "review" or not several:
        return None, several, None  # assess_quality chooses (and `single` refuses several)
    embeddings = pipeline.embedder.embed(np.stack([pipeline.crop(pixels, face) for face in several]))
    chosen = preselect_face(pixels.shape, several, _similarity_to_person(image, embeddings))
    return several[chosen], several, embeddings[chosen]


def _check_face(image: EnrollmentImage, pixels, detections, chosen, thresholds, pipeline,
                embedding=None) -> _FaceOutcome:
    """Quality, liveness, crop and embedding of the chosen face (or the one the policy picks); `embedding`:
    the chosen face's, when the caller has it already."""
    report = assess_quality(pixels, detections, None, thresholds, chosen=chosen)
    outcome = _FaceOutcome(detection=report.detection, figures=dict(report.figures))
    if report.detection is None or not report.ok:
        failure = report.failures[0]
        outcome.rejection = (failure.code, "; ".join(f.message for f in report.failures))
        return outcome
    policy = settings.FACEREC_LIVENESS
    outcome.liveness = check_liveness(pixels, [report.detection], policy=policy)[0]
    if outcome.liveness is not None:
        outcome.figures["liveness"] = outcome.liveness
    if failed_liveness(outcome.liveness, policy):
        outcome.rejection = ("liveness_failed", f"liveness score {outcome.liveness['score']:.3f} is below the "
                                                "threshold: the photo may show a printed photo or a screen "
                                                "instead of the person")
        return outcome
    if embedding is None:
        outcome.crop, outcome.embedding = embed_face(pixels, report.detection, pipeline)
    else:  # computed already, with the other faces', to choose the person's
        outcome.crop, outcome.embedding = pipeline.crop(pixels, report.detection), embedding
    outcome.duplicate = possible_duplicate(outcome.embedding, model_version=pipeline.embedder.model_info.version,
                                           exclude_identity_id=image.identity_id)
    return outcome


def _faces_field(faces) -> list[dict]:
    return [{"box": [round(v, 1) for v in face.box], "probability": round(face.probability, 4)} for face in faces]


def _store_face(image: EnrollmentImage, outcome: _FaceOutcome, faces: list[dict], face_index: int | None,
                pipeline) -> None:
    """Write an accepted face onto the (locked) row: crop, inactive template, figures; awaiting review."""
    info = pipeline.embedder.model_info
    _save_crop(image, outcome.crop)
    image.status = Status.AWAITING_REVIEW
    image.rejection_reason, image.rejection_detail = "", ""
    store_embedding(image=image, vector=outcome.embedding, model_name=info.name, model_version=info.version)
    image.face_box = [round(v, 1) for v in outcome.detection.box]
    image.detection_probability = outcome.detection.probability
    image.quality = {**outcome.figures, "possible_duplicate": outcome.duplicate}
    image.faces, image.face_index = faces, face_index
    image.save()


def _index_in(several: list, detection) -> int | None:
    """Where the face checked is among the significant faces kept (None: a single face, or another one)."""
    return next((i for i, face in enumerate(several) if face is detection), None)


def process_photo(image_id: int) -> str | None:
    """Detect, check quality, crop and embed a claimed photo; the result awaits review.

    A photo with several significant faces (policy `review`) keeps them all (`faces`) with the
    person's preselected (`face_index`): a reviewer may pick another. Returns the new status, or
    None when the photo was not ours to process. Transient errors (TRANSIENT_ERRORS) give the
    claim back and propagate so the task can retry them; any other error fails the photo.
    Every write is conditional on this run's claim still being the photo's.
    """
    if not claim_for_processing(image_id):
        return None
    image = EnrollmentImage.objects.select_related("identity").get(pk=image_id)
    claim = image.attempts  # a later claim (the sweeper judged this one lost) makes this run's results void
    try:
        return _process_claimed(image, claim)
    except TRANSIENT_ERRORS:
        # Give the claim back (if it is still this run's) so the retry, or the sweep, takes it again.
        EnrollmentImage.objects.filter(pk=image_id, status=Status.PROCESSING, attempts=claim).update(
            status=Status.PENDING, updated_at=timezone.now())
        raise
    except Exception as exc:
        log.exception("processing photo %s failed", image_id)
        mark_failed(image_id, f"{type(exc).__name__}: {exc}", claim=claim)
        return Status.FAILED


def _process_claimed(image: EnrollmentImage, claim: int) -> str | None:
    image_id = image.pk
    pipeline = get_pipeline()
    try:
        pixels, detections = read_photo_faces(image.file, pipeline)
    except ImageRejected as exc:
        return _finish_rejected(image, exc.reason, exc.detail, {}, claim=claim)
    thresholds = quality_thresholds()
    chosen, several, chosen_embedding = _person_face(image, pixels, detections, thresholds, pipeline)
    faces = _faces_field(several)
    if image.requested_face_box and chosen is None:
        return _finish_rejected(image, "face_not_found", f"no face was found at the face_box given at upload "
                                f"{image.requested_face_box} ({len(detections)} face(s) in the photo)",
                                {"face_count": float(len(detections))}, claim=claim, faces=faces)
    outcome = _check_face(image, pixels, detections, chosen, thresholds, pipeline, embedding=chosen_embedding)
    if outcome.rejection is not None:
        return _finish_rejected(image, *outcome.rejection, outcome.figures, detection=outcome.detection,
                                claim=claim, faces=faces, face_index=_index_in(several, outcome.detection))
    with transaction.atomic():
        image = EnrollmentImage.objects.select_for_update().get(pk=image_id)
        if image.status != Status.PROCESSING or image.attempts != claim:
            return None  # erased, or re-queued (and perhaps claimed again) meanwhile
        _store_face(image, outcome, faces, _index_in(several, outcome.detection), pipeline)
        audit.record(action="photo.process", target=image,
                     details={"status": image.status, "possible_duplicate": outcome.duplicate is not None,
                              "liveness": outcome.liveness, "faces": len(faces) or None})
        emit("photo.awaiting_review", {"photo_id": image.pk, "identity_id": image.identity_id},
             identity_id=image.identity_id)
    return image.status


def _face_choice_allowed(image: EnrollmentImage, index: int) -> None:
    require_active(image.identity)
    if not image.faces:
        raise InvalidTransition(f"photo #{image.pk} shows a single face: there is no other to choose", field="index")
    if not 0 <= index < len(image.faces):
        raise DomainError(f"index must be from 0 to {len(image.faces) - 1} (the photo's faces)", code="invalid",
                          field="index")
    if not (image.status == Status.AWAITING_REVIEW or (image.status == Status.REJECTED
                                                        and image.reviewed_by_id is None)):
        raise InvalidTransition(f"photo #{image.pk} is {image.status}: a face can be chosen while it awaits "
                                "review, or after the checks rejected it")


def choose_face(*, image_id: int, index: int, actor=None) -> EnrollmentImage:
    """A reviewer picks another face of a photo that shows several: the checks, the crop and the template
    are redone for that face (the photo then awaits review again, or is rejected for that face's
    quality). Allowed while the photo awaits review, or after the checks (not a person) rejected it.
    The face is checked before the row is locked; the write re-checks that nothing changed meanwhile."""
    image = EnrollmentImage.objects.select_related("identity").get(pk=image_id)
    _face_choice_allowed(image, index)
    pipeline = get_pipeline()
    pixels, detections = read_photo_faces(image.file, pipeline)
    chosen = face_at(detections, image.faces[index]["box"], min_overlap=0.5)
    if chosen is None:  # the detector is deterministic: the face it found before is there
        raise InvalidTransition(f"face {index} of photo #{image.pk} was not found again")
    outcome = _check_face(image, pixels, detections, chosen, quality_thresholds(), pipeline)
    with transaction.atomic():
        locked = EnrollmentImage.objects.select_for_update(of=("self",)).select_related("identity").get(pk=image_id)
        _face_choice_allowed(locked, index)
        if (locked.status, locked.face_index, locked.faces) != (image.status, image.face_index, image.faces):
            raise InvalidTransition(f"photo #{image.pk} changed while its face was being checked: look again")
        image, previous = locked, locked.face_index
        if outcome.rejection is None:
            _store_face(image, outcome, image.faces, index, pipeline)
        else:
            deactivate_templates(photo_ids=[image.pk])
            image.status, (image.rejection_reason, image.rejection_detail) = Status.REJECTED, outcome.rejection
            image.quality, image.face_index = outcome.figures, index
            image.face_box = [round(v, 1) for v in chosen.box]
            image.detection_probability = chosen.probability
            image.save()
        audit.record(action="photo.choose_face", actor=actor, target=image,
                     details={"from": previous, "to": index, "status": image.status})
    return image


def _finish_rejected(image: EnrollmentImage, code: str, detail: str, figures: dict, detection=None, *,
                     claim: int, faces: list[dict] | None = None, face_index: int | None = None) -> str | None:
    with transaction.atomic():
        updated = EnrollmentImage.objects.filter(pk=image.pk, status=Status.PROCESSING, attempts=claim).update(
            faces=faces or [], face_index=face_index,
            status=Status.REJECTED, rejection_reason=code, rejection_detail=detail, quality=figures,
            face_box=[round(v, 1) for v in detection.box] if detection else None,
            detection_probability=detection.probability if detection else None, updated_at=timezone.now())
        if updated:
            audit.record(action="photo.process", target=image, details={"status": Status.REJECTED, "reason": code,
                                                                        "liveness": figures.get("liveness")})
    return Status.REJECTED if updated else None


def mark_failed(image_id: int, error: str, *, code: str = "processing_error", claim: int | None = None,
                only_pending: bool = False) -> None:
    """The photo is `failed` with the reason, nothing else changes: while `claim` (when given) is still its
    claim, and, with `only_pending`, only if no run holds it (a task that gave up after retries)."""
    with transaction.atomic():
        photo = EnrollmentImage.objects.filter(pk=image_id, status__in=[Status.PENDING] if only_pending else
                                               [Status.PENDING, Status.PROCESSING])
        if claim is not None:
            photo = photo.filter(attempts=claim)
        updated = photo.update(
            status=Status.FAILED, rejection_reason=code, rejection_detail=error[:500],
            updated_at=timezone.now())
        if updated:
            audit.record(action="photo.process", target=EnrollmentImage(pk=image_id),
                         details={"status": Status.FAILED, "reason": code})


def _save_crop(image: EnrollmentImage, crop) -> None:
    previous = image.crop.name if image.crop else ""
    image.crop.save("crop", ContentFile(png_bytes(crop)), save=False)
    if previous and previous != image.crop.name:  # a face picked again: the old crop (maybe a bystander) goes
        transaction.on_commit(lambda: delete_stored_files([previous]))
