"""Every write that matters for people, consent, photos and review.

One transaction each, the audit entry written inside it, Celery tasks sent with
`transaction.on_commit` so a worker never sees a row that was rolled back.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Collection, Iterable, Mapping, Sequence

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from core.errors import (
    ConsentRequired,
    DomainError,
    DuplicatePhoto,
    IdentityErased,
    InvalidTransition,
    NotFound,
    PhotoRejected,
)
from core.tasks import enqueue_on_commit, send_task
from identities.models import Consent, EnrollmentImage, Identity
from recognition.pipeline.errors import ImageRejected
from recognition.runtime import decode_image, read_image_file

Status = EnrollmentImage.Status
log = logging.getLogger(__name__)


# --- identities -----------------------------------------------------------------


def _duplicate_ref(external_ref) -> DomainError:
    return DomainError(f"another person already has the external reference {external_ref!r}",
                       code="duplicate_external_ref", field="external_ref")


MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_VALUE_CHARS = 100
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,50}")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_CONTACT_EMAIL_CHARS = 254


def _invalid_attributes(message: str) -> DomainError:
    return DomainError(message, code="invalid_attributes", field="attributes")


def clean_attributes(value: Any) -> dict[str, str]:
    """The one check of an identity's attributes: a JSON object of key -> text value.

    Keys are 1-50 letters, digits, `_`, `-` or `.`; values are text of at most 100
    characters on one line (whole and decimal numbers become text), stripped; an empty
    value drops its key; at most 20 keys are kept. Messages name keys, never values
    (they may be sensitive).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid_attributes("attributes must be an object of key -> value")
    cleaned: dict[str, str] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not _ATTRIBUTE_KEY.fullmatch(key):
            raise _invalid_attributes(f"attribute key {str(key)[:60]!r}: use 1-50 letters, digits, '_', '-' or '.'")
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            raise _invalid_attributes(f"attribute {key!r}: the value must be text or a number")
        raw = raw.strip()
        if _CONTROL_CHARS.search(raw):  # NUL cannot be stored in jsonb; line breaks would garble the form
            raise _invalid_attributes(f"attribute {key!r}: the value must be one line without control characters")
        if len(raw) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise _invalid_attributes(f"attribute {key!r}: the value is longer than "
                                      f"{MAX_ATTRIBUTE_VALUE_CHARS} characters")
        if raw:
            cleaned[key] = raw
    if len(cleaned) > MAX_ATTRIBUTES:
        raise _invalid_attributes(f"at most {MAX_ATTRIBUTES} attributes, not {len(cleaned)}")
    return cleaned


def clean_contact_email(value: Any) -> str:
    """The one check of an identity's contact address: empty, or one valid email address (stripped).

    Messages never echo the address.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if value is None:
        return ""
    if not isinstance(value, str):
        raise DomainError("the contact email must be text", code="invalid_contact_email", field="contact_email")
    value = value.strip()
    if not value:
        return ""
    if len(value) > MAX_CONTACT_EMAIL_CHARS:
        raise DomainError(f"the contact email is longer than {MAX_CONTACT_EMAIL_CHARS} characters",
                          code="invalid_contact_email", field="contact_email")
    try:
        validate_email(value)
    except ValidationError:
        raise DomainError("the contact email is not a valid email address", code="invalid_contact_email",
                          field="contact_email") from None
    return value


def _changed_keys(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Keys added, removed or given another value: what the audit log may say about attributes."""
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))


@transaction.atomic
def create_identity(*, display_name: str, external_ref: str | None = None, notes: str = "",
                    attributes: Mapping[str, Any] | None = None, contact_email: str | None = "",
                    actor=None) -> Identity:
    attributes = clean_attributes(attributes)
    contact_email = clean_contact_email(contact_email)
    try:
        with transaction.atomic():
            identity = Identity.objects.create(
                display_name=display_name, external_ref=external_ref or None, notes=notes, attributes=attributes,
                contact_email=contact_email, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    except IntegrityError:
        raise _duplicate_ref(external_ref)
    # That there is one, never the value: the audit log outlives an erasure, and the reference names the person.
    details: dict[str, Any] = {"external_ref": bool(external_ref)}
    if attributes:
        details["attribute_keys"] = sorted(attributes)  # keys only: values may be sensitive
    if contact_email:
        details["contact_email"] = True  # that there is one, never the address
    audit.record(action="identity.create", actor=actor, target=identity, details=details)
    return identity


@transaction.atomic
def update_identity(*, identity: Identity, actor=None, **changes) -> Identity:
    """Change name, external ref, notes, contact email or attributes (`attributes` replaces the whole set).

    The audit entry names the fields changed; for attributes the keys, for the contact email nothing more.
    """
    _require_active(identity)
    allowed = {"display_name", "external_ref", "notes", "contact_email", "attributes"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    details: dict[str, Any] = {"fields": sorted(changes)}
    if "contact_email" in changes:
        changes["contact_email"] = clean_contact_email(changes["contact_email"])
    if "attributes" in changes:
        changes["attributes"] = clean_attributes(changes["attributes"])
        # From the database: a caller (the admin) may already have set the new value on the instance.
        before = Identity.objects.filter(pk=identity.pk).values_list("attributes", flat=True).first() or {}
        details["attribute_keys"] = _changed_keys(before, changes["attributes"])  # keys only, no values
    for name, value in changes.items():
        setattr(identity, name, (value or None) if name == "external_ref" else value)
    try:
        with transaction.atomic():
            identity.save()
    except IntegrityError:
        raise _duplicate_ref(changes.get("external_ref"))
    audit.record(action="identity.update", actor=actor, target=identity, details=details)
    return identity


def _require_active(identity: Identity) -> None:
    if identity.status == Identity.Status.ERASED:
        raise IdentityErased(f"identity #{identity.pk} was erased")


# --- consent --------------------------------------------------------------------


@transaction.atomic
def record_consent(*, identity: Identity, given_by_name: str, purpose: str, wording_version: str,
                   given_by: str = Consent.GivenBy.SELF, given_at: datetime | None = None,
                   expires_at: datetime | None = None, actor=None) -> Consent:
    _require_active(identity)
    given_at = given_at or timezone.now()
    if expires_at is not None and expires_at <= given_at:
        raise DomainError("the consent expires before it was given", code="invalid_consent", field="expires_at")
    consent = Consent.objects.create(
        identity=identity, given_by=given_by, given_by_name=given_by_name, given_at=given_at, purpose=purpose,
        wording_version=wording_version, expires_at=expires_at,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    # A new valid consent cancels an erasure scheduled by an earlier withdrawal.
    cancelled_erasure = identity.erasure_due_at is not None and consent.is_valid()
    if cancelled_erasure:
        identity.erasure_due_at = None
        identity.save(update_fields=["erasure_due_at", "updated_at"])
    audit.record(action="consent.record", actor=actor, target=consent,
                 details={"identity_id": identity.pk, "given_by": given_by, "wording_version": wording_version,
                          "expires_at": expires_at, "cancelled_erasure": cancelled_erasure})
    return consent


def valid_consent(identity: Identity, at: datetime | None = None) -> Consent | None:
    """The most recent consent of `identity` that is valid now, or None."""
    at = at or timezone.now()
    for consent in identity.consents.filter(withdrawn_at__isnull=True, given_at__lte=at):
        if consent.is_valid(at):
            return consent
    return None


@transaction.atomic
def withdraw_consent(*, consent: Consent, actor=None) -> Consent:
    """Withdraw at once: the identity's templates stop matching now; erasure follows per policy."""
    from recognition.services import deactivate_templates

    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise InvalidTransition(f"consent #{consent.pk} was already withdrawn")
    consent.withdrawn_at = timezone.now()
    consent.save(update_fields=["withdrawn_at"])
    identity = consent.identity
    deactivated = deactivate_templates(identity=identity)
    erase_after = timedelta(days=settings.FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS)
    if valid_consent(identity) is None:
        identity.erasure_due_at = consent.withdrawn_at + erase_after
        identity.save(update_fields=["erasure_due_at", "updated_at"])
    audit.record(action="consent.withdraw", actor=actor, target=consent,
                 details={"identity_id": identity.pk, "templates_deactivated": deactivated,
                          "erasure_due_at": identity.erasure_due_at})
    if deactivated:
        _request_retrain()
    if identity.erasure_due_at is not None and erase_after.total_seconds() == 0:
        from identities.tasks import erase_due_identities

        # Broker unreachable: the hourly beat job erases instead.
        enqueue_on_commit(erase_due_identities)
    return consent


def _scrub_classifiers(identity_id: int) -> None:
    from recognition.services import scrub_identity_from_classifiers

    scrub_identity_from_classifiers(identity_id)


def _request_retrain() -> None:
    from recognition.services import request_retrain

    request_retrain()


# --- enrollment -----------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    face_box: Sequence[float] | None = None  # the person's face, for a photo that shows several


def _check_upload(upload: Upload) -> str:
    """Decode once to refuse what the pipeline would refuse; returns the content type, sniffed
    from the bytes (the upload's name and declared type are never trusted)."""
    from recognition.pipeline.images import sniff_content_type

    try:
        decode_image(upload.data)
        return sniff_content_type(upload.data)
    except ImageRejected as exc:
        raise PhotoRejected(f"{upload.name}: {exc.detail}", code=exc.reason, field="photos",
                            detail={"file": upload.name}, status=413 if exc.reason == "too_large" else 400)


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
            _require_active(identity)
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
        _delete_files(stored)
        raise DuplicatePhoto("a photo was already uploaded for this person", field="photos")
    except BaseException:
        _delete_files(stored)  # rolled back: no file without its row
        raise
    return images


def _queue_processing(image_ids: Iterable[int]) -> None:
    """Send one processing task per photo (after commit). A broker that is down is not an error here.

    The committed `pending` rows are the outbox: a photo whose task could not be sent stays
    pending, and the sweeper (`requeue_stale_photos`) sends it once the broker is back.
    Settings bound the publish retries, so a broker outage costs an upload well under a second.
    """
    from identities.tasks import process_enrollment_image

    ids = list(image_ids)
    for sent, image_id in enumerate(ids):
        # A known task id lets pages and the API show the job's status.
        if not send_task(process_enrollment_image, [image_id], task_id=processing_task_id(image_id)):
            # The rest would fail the same way: leave them all to the sweeper.
            log.warning("photos %s stay pending for the sweeper", ids[sent:])
            return


def processing_task_id(image_id: int) -> str:
    return f"enroll-photo-{image_id}"


# --- review ---------------------------------------------------------------------


def _transition(image_ids: Sequence[int], *, to: str, allowed_from: set[str], actor, reason: str = "",
                detail: str = "") -> list[EnrollmentImage]:
    try:
        image_ids = sorted({int(i) for i in image_ids})
    except (TypeError, ValueError):
        raise DomainError("photo ids must be whole numbers", field="ids")
    if not image_ids:
        raise DomainError("no photo selected", field="ids")
    images = list(EnrollmentImage.objects.select_for_update().filter(pk__in=image_ids).order_by("pk"))
    missing = set(image_ids) - {image.pk for image in images}
    if missing:
        raise NotFound(f"unknown photo ids: {sorted(missing)}", field="ids")
    for image in images:
        if image.status not in allowed_from:
            raise InvalidTransition(f"photo #{image.pk} is {image.status}; only {' or '.join(sorted(allowed_from))} "
                                    f"photos can become {to}")
    now = timezone.now()
    for image in images:
        image.status = to
        image.reviewed_by = actor if getattr(actor, "is_authenticated", False) else None
        image.reviewed_at = now
        if to == Status.REJECTED:
            image.rejection_reason, image.rejection_detail = reason or "reviewer", detail
        image.save(update_fields=["status", "reviewed_by", "reviewed_at", "rejection_reason", "rejection_detail",
                                  "updated_at"])
    return images


@transaction.atomic
def approve_photos(*, image_ids: Sequence[int], actor=None) -> list[EnrollmentImage]:
    """awaiting_review -> approved: the photo's embedding becomes an active template."""
    from recognition.services import activate_templates

    images = _transition(image_ids, to=Status.APPROVED, allowed_from={Status.AWAITING_REVIEW}, actor=actor)
    total = 0
    for image in images:
        if valid_consent(image.identity) is None:
            raise ConsentRequired(f"photo #{image.pk}: the person's consent is no longer valid")
        activated = activate_templates(photo_ids=[image.pk])
        total += activated
        audit.record(action="photo.approve", actor=actor, target=image,
                     details={"identity_id": image.identity_id, "templates_activated": activated})
    from reenrollment.services import fulfil_requests

    by_identity: dict[int, list[EnrollmentImage]] = {}
    for image in images:
        by_identity.setdefault(image.identity_id, []).append(image)
    for _, approved in sorted(by_identity.items()):
        # New photos of someone asked to re-enroll fulfil the request and retire the oldest templates.
        fulfil_requests(identity=approved[0].identity, approved=approved, actor=actor)
    if total:
        _request_retrain()
    return images


@transaction.atomic
def reject_photos(*, image_ids: Sequence[int], reason: str, actor=None) -> list[EnrollmentImage]:
    """awaiting_review (or approved) -> rejected, with the reviewer's reason; templates off."""
    from recognition.services import deactivate_templates

    if not reason.strip():
        raise DomainError("a rejection needs a reason", code="reason_required", field="reason")
    images = _transition(image_ids, to=Status.REJECTED, allowed_from={Status.AWAITING_REVIEW, Status.APPROVED},
                         actor=actor, reason="reviewer", detail=reason.strip())
    was_active = 0
    for image in images:
        was_active += deactivate_templates(photo_ids=[image.pk])
        audit.record(action="photo.reject", actor=actor, target=image,
                     details={"identity_id": image.identity_id, "reason": reason.strip()})
    if was_active:
        _request_retrain()
    return images


# --- erasure --------------------------------------------------------------------


def erase_identity(*, identity: Identity, actor=None) -> dict[str, int]:
    """Right to erasure: photos, crops, embeddings and consents go; name, external ref, notes, contact
    email and attributes are blanked; one audit entry stays.

    Idempotent: erasing an erased identity removes whatever is left (nothing) and
    records nothing new.
    """
    from recognition.services import delete_recognition_data
    from reenrollment.models import IdentityPolicy

    files: list[str] = []
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        images = list(identity.images.all())
        files = [f.name for image in images for f in (image.file, image.crop) if f]
        counts = {"photos": len(images), **delete_recognition_data(identity=identity)}
        EnrollmentImage.objects.filter(identity=identity).delete()
        # Re-enrollment requests and overrides describe the person too (drift figures).
        identity.reenrollment_requests.all().delete()
        IdentityPolicy.objects.filter(identity=identity).delete()
        counts["consents"] = Consent.objects.filter(identity=identity).delete()[0]
        # Other people's photos flagged as looking like this person forget whom they looked like.
        for other in EnrollmentImage.objects.filter(quality__possible_duplicate__identity_id=identity.pk):
            other.quality = {**other.quality, "possible_duplicate": None}
            other.save(update_fields=["quality"])
        already = identity.status == Identity.Status.ERASED
        identity.status = Identity.Status.ERASED
        identity.display_name = ""
        identity.external_ref = None
        identity.notes = ""
        identity.contact_email = ""
        identity.attributes = {}
        identity.erasure_due_at = None
        identity.save()
        if not (already and not any(counts.values())):
            audit.record(action="identity.erase", actor=actor, target=identity, details=counts)
        transaction.on_commit(lambda: _delete_files(files))
        # Classifier artifacts are learnt from the templates: the person's row goes from
        # every stored one now, and an urgent retrain from scratch replaces them.
        identity_id = identity.pk
        transaction.on_commit(lambda: _scrub_classifiers(identity_id))
        if counts["embeddings"]:
            from recognition.services import request_retrain

            request_retrain(urgent=True)
    return counts


def _delete_files(names: Iterable[str]) -> None:
    from identities.models import private_storage

    for name in names:
        private_storage.delete(name)


# --- processing (run by the worker) ---------------------------------------------

# Errors worth a retry (the disk, the database or a model file for a moment); others fail the photo.
TRANSIENT_ERRORS = (OSError, ConnectionError, TimeoutError)


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
    from recognition.selectors import templates_of_photos

    vectors = templates_of_photos(image.identity.images.exclude(pk=image.pk).filter(
        status__in=[Status.APPROVED, Status.AWAITING_REVIEW]).values_list("pk", flat=True))
    if vectors is None:
        return None
    return [float(max(vectors @ e)) for e in embeddings]


def _person_face(image: EnrollmentImage, pixels, detections, thresholds, pipeline):
    """(the face to check, the significant faces when several show, the chosen face's embedding when it was
    computed to choose it); a face named at upload that is not found gives (None, faces, None)."""
    from recognition.pipeline.quality import face_at, preselect_face

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
    from recognition.pipeline.quality import assess_quality
    from recognition.services import check_liveness, failed_liveness, possible_duplicate

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
    outcome.crop = pipeline.crop(pixels, report.detection)
    outcome.embedding = embedding if embedding is not None else pipeline.embedder.embed(outcome.crop[None])[0]
    outcome.duplicate = possible_duplicate(outcome.embedding, model_version=pipeline.embedder.model_info.version,
                                           exclude_identity_id=image.identity_id)
    return outcome


def _faces_field(faces) -> list[dict]:
    return [{"box": [round(v, 1) for v in face.box], "probability": round(face.probability, 4)} for face in faces]


def _store_face(image: EnrollmentImage, outcome: _FaceOutcome, faces: list[dict], face_index: int | None,
                pipeline) -> None:
    """Write an accepted face onto the (locked) row: crop, inactive template, figures; awaiting review."""
    from recognition.services import store_embedding

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
    from recognition.pipeline.errors import ImageRejected
    from recognition.runtime import get_pipeline, quality_thresholds

    image_id = image.pk
    pipeline = get_pipeline()
    try:
        pixels = read_image_file(image.file)
    except ImageRejected as exc:
        return _finish_rejected(image, exc.reason, exc.detail, {}, claim=claim)
    detections = pipeline.detector.detect(pixels)
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
    return image.status


def _face_choice_allowed(image: EnrollmentImage, index: int) -> None:
    _require_active(image.identity)
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
    from recognition.pipeline.quality import face_at
    from recognition.runtime import get_pipeline, quality_thresholds

    image = EnrollmentImage.objects.select_related("identity").get(pk=image_id)
    _face_choice_allowed(image, index)
    pipeline = get_pipeline()
    pixels = read_image_file(image.file)
    detections = pipeline.detector.detect(pixels)
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
            from recognition.services import deactivate_templates

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
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="PNG")
    previous = image.crop.name if image.crop else ""
    image.crop.save("crop", ContentFile(buf.getvalue()), save=False)
    if previous and previous != image.crop.name:  # a face picked again: the old crop (maybe a bystander) goes
        transaction.on_commit(lambda: _delete_files([previous]))


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


def erase_due_identities() -> list[int]:
    """Identities whose erasure date (after consent withdrawal) has come."""
    due = list(Identity.objects.filter(erasure_due_at__lte=timezone.now(), status=Identity.Status.ACTIVE))
    for identity in due:
        if valid_consent(identity) is None:
            erase_identity(identity=identity)
        else:
            Identity.objects.filter(pk=identity.pk).update(erasure_due_at=None)
    return [identity.pk for identity in due]
