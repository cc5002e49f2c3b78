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


def _num(value, places: int = 2) -> str:
    return f"{value:.{places}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def summarise_details(request: ReenrollmentRequest) -> str:
    """The figures that broke the rule, in a line (e.g. "baseline 0.72 → recent 0.51 (window 10)")."""
    d = request.details or {}
    if request.reason == ReenrollmentRequest.Reason.DRIFT and "baseline" in d:
        line = f"baseline {_num(d.get('baseline'))} → recent {_num(d.get('recent_median'))}"
        if d.get("window") is not None:
            line += f" (window {d['window']})"
        if d.get("margin") is not None:
            line += f"; drop {_num(d.get('drop'))} > margin {_num(d.get('margin'))}"
        return line
    if request.reason == ReenrollmentRequest.Reason.TOO_FEW_PHOTOS and "active_photos" in d:
        count = d["active_photos"]
        return f"{count} active photo{'' if count == 1 else 's'} (minimum {d.get('minimum', '?')})"
    if request.reason == ReenrollmentRequest.Reason.TEMPLATE_AGE and "age_days" in d:
        return f"newest template {d['age_days']} days old (maximum {d.get('max_age_days', '?')})"
    return ", ".join(f"{key} {value}" for key, value in sorted(d.items()))


def with_summaries(requests) -> list[ReenrollmentRequest]:
    requests = list(requests)
    for request in requests:
        request.summary = summarise_details(request)
    return requests
