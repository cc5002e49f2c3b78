"""Review of processed photos: approve (templates on) or reject (templates off), all or nothing."""

from __future__ import annotations

from typing import Sequence

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from core.errors import ConsentRequired, DomainError, InvalidTransition, NotFound
from identities.models import EnrollmentImage
from identities.selectors import valid_consent
from recognition.services import activate_templates, deactivate_templates, request_retrain
from reenrollment.services import fulfil_requests
from webhooks.services import emit

Status = EnrollmentImage.Status


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
    images = _transition(image_ids, to=Status.APPROVED, allowed_from={Status.AWAITING_REVIEW}, actor=actor)
    total = 0
    for image in images:
        if valid_consent(image.identity) is None:
            raise ConsentRequired(f"photo #{image.pk}: the person's consent is no longer valid")
        activated = activate_templates(photo_ids=[image.pk])
        total += activated
        audit.record(action="photo.approve", actor=actor, target=image,
                     details={"identity_id": image.identity_id, "templates_activated": activated})
        emit("photo.approved", {"photo_id": image.pk, "identity_id": image.identity_id}, identity_id=image.identity_id)
    by_identity: dict[int, list[EnrollmentImage]] = {}
    for image in images:
        by_identity.setdefault(image.identity_id, []).append(image)
    for _, approved in sorted(by_identity.items()):
        # New photos of someone asked to re-enroll fulfil the request and retire the oldest templates.
        fulfil_requests(identity=approved[0].identity, approved=approved, actor=actor)
    if total:
        request_retrain()
    return images


@transaction.atomic
def reject_photos(*, image_ids: Sequence[int], reason: str, actor=None) -> list[EnrollmentImage]:
    """awaiting_review (or approved) -> rejected, with the reviewer's reason; templates off."""
    if not reason.strip():
        raise DomainError("a rejection needs a reason", code="reason_required", field="reason")
    images = _transition(image_ids, to=Status.REJECTED, allowed_from={Status.AWAITING_REVIEW, Status.APPROVED},
                         actor=actor, reason="reviewer", detail=reason.strip())
    was_active = 0
    for image in images:
        was_active += deactivate_templates(photo_ids=[image.pk])
        audit.record(action="photo.reject", actor=actor, target=image,
                     details={"identity_id": image.identity_id, "reason": reason.strip()})
        emit("photo.rejected", {"photo_id": image.pk, "identity_id": image.identity_id}, identity_id=image.identity_id)
    if was_active:
        request_retrain()
    return images
