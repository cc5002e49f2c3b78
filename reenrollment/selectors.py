"""Reads of re-enrollment requests that the pages, the API and the identity page share."""

from __future__ import annotations

from django.db.models import QuerySet

from identities.models import Identity
from reenrollment.models import ReenrollmentRequest


def reenrollment_requests(*, status: str | None = None, reason: str | None = None,
                          identity_id: int | None = None) -> QuerySet[ReenrollmentRequest]:
    """Requests, newest first, narrowed by whichever filters are given (None: any)."""
    requests = ReenrollmentRequest.objects.select_related("identity", "closed_by").order_by("-created_at", "-id")
    if status:
        requests = requests.filter(status=status)
    if reason:
        requests = requests.filter(reason=reason)
    if identity_id is not None:
        requests = requests.filter(identity_id=identity_id)
    return requests


def open_requests_of(identity: Identity) -> QuerySet[ReenrollmentRequest]:
    return reenrollment_requests(status=ReenrollmentRequest.Status.OPEN, identity_id=identity.pk)
