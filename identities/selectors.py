"""Reads that several callers need (pages, API, admin, tasks)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import roles
from audit.models import AuditLog
from identities.models import Consent, EnrollmentImage, Identity

# Who reaches people's records, for the pages and the API: any of these reads them (scoped_to says
# which), any of those changes them (may_change_identity says whose).
READ_IDENTITIES = ("view_identities", "manage_identities", "enroll")
CHANGE_IDENTITIES = ("manage_identities", "enroll")


def scoped_to(queryset: QuerySet, user, *, owner_field: str) -> QuerySet:
    """What of `queryset` the user may read: all of it with view_identities or manage_identities, else the
    rows of the people they enrolled (`owner_field` leads to Identity.created_by)."""
    if roles.can(user, "view_identities") or roles.can(user, "manage_identities"):
        return queryset
    if roles.can(user, "enroll"):
        return queryset.filter(**{owner_field: user})
    return queryset.none()


def visible_identities(user, identities: QuerySet[Identity] | None = None) -> QuerySet[Identity]:
    """Of `identities` (default: everyone) the people this user may read, for pages and API alike."""
    return scoped_to(Identity.objects.all() if identities is None else identities, user, owner_field="created_by")


def visible_photos(user, photos: QuerySet[EnrollmentImage] | None = None) -> QuerySet[EnrollmentImage]:
    """Of `photos` (default: all) the photo records of people this user may read."""
    return scoped_to(EnrollmentImage.objects.all() if photos is None else photos, user,
                     owner_field="identity__created_by")


def _own_enrollment(user, identity: Identity) -> bool:
    return identity.created_by_id is not None and identity.created_by_id == user.pk and roles.can(user, "enroll")


def may_read_identity(user, identity: Identity) -> bool:
    return (roles.can(user, "view_identities") or roles.can(user, "manage_identities")
            or _own_enrollment(user, identity))


def may_change_identity(user, identity: Identity) -> bool:
    """Edit, record consent, upload photos: manage_identities, or enroll for one's own enrollments."""
    return roles.can(user, "manage_identities") or _own_enrollment(user, identity)


def may_see_faces(user, identity: Identity) -> bool:
    """Face photos and crops: view_faces, or enroll for the people one enrolled."""
    return roles.can(user, "view_faces") or _own_enrollment(user, identity)


def photos_with_visible_faces(user) -> QuerySet[EnrollmentImage]:
    photos = EnrollmentImage.objects.select_related("identity")
    if roles.can(user, "view_faces"):
        return photos
    if roles.can(user, "enroll"):
        return photos.filter(identity__created_by=user)
    return photos.none()


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


def valid_consent(identity: Identity, at: datetime | None = None) -> Consent | None:
    """The most recent consent of `identity` that is valid now (or at `at`), or None."""
    at = at or timezone.now()
    for consent in identity.consents.filter(withdrawn_at__isnull=True, given_at__lte=at):
        if consent.is_valid(at):
            return consent
    return None


def listed_identities(user, *, search: str | None = None, status: str | None = None) -> QuerySet[Identity]:
    """The people this user may read, with their photo counts, in a stable order for pages; `search` in the
    display name or external ref, `status` one of Identity.Status."""
    # Aggregated querysets drop Meta.ordering: order explicitly for stable pages.
    overview = identities_overview().select_related("created_by").order_by("display_name", "id")
    identities = visible_identities(user, overview)
    if search:
        identities = identities.filter(Q(display_name__icontains=search) | Q(external_ref__icontains=search))
    if status:
        identities = identities.filter(status=status)
    return identities


def listed_photos(user, *, identity_id: int | None = None, status: str | None = None) -> QuerySet[EnrollmentImage]:
    """The photo records this user may read, with who uploaded and reviewed them; optionally one person's,
    or those in one EnrollmentImage.Status."""
    photos = visible_photos(user, EnrollmentImage.objects.select_related("uploaded_by", "reviewed_by"))
    if identity_id is not None:
        photos = photos.filter(identity_id=identity_id)
    if status:
        photos = photos.filter(status=status)
    return photos
