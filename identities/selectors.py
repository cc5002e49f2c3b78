"""Reads that several callers need (pages, API, admin, tasks)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from identities.models import AuditLog, EnrollmentImage, Identity


def identities_overview() -> QuerySet[Identity]:
    """Identities with photo counts per status, for lists."""
    return Identity.objects.annotate(
        photo_count=Count("images", distinct=True),
        approved_count=Count("images", filter=Q(images__status=EnrollmentImage.Status.APPROVED), distinct=True),
        active_templates=Count("embeddings", filter=Q(embeddings__active=True), distinct=True),
    )


def photos_awaiting_review() -> QuerySet[EnrollmentImage]:
    return (EnrollmentImage.objects.filter(status=EnrollmentImage.Status.AWAITING_REVIEW)
            .select_related("identity", "uploaded_by").order_by("created_at", "id"))


def identity_history(identity: Identity) -> QuerySet[AuditLog]:
    """Audit entries about the identity, its consents and its photos."""
    photo_ids = [str(pk) for pk in identity.images.values_list("pk", flat=True)]
    consent_ids = [str(pk) for pk in identity.consents.values_list("pk", flat=True)]
    return AuditLog.objects.filter(
        Q(target_type="identities.identity", target_id=str(identity.pk))
        | Q(target_type="identities.enrollmentimage", target_id__in=photo_ids)
        | Q(target_type="identities.consent", target_id__in=consent_ids)
    ).order_by("-id")
