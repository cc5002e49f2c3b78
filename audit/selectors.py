"""Reads of the audit log that its API and pages share."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditLog


def audit_entries(*, action: str | None = None, target_type: str | None = None,
                  target_id: str | None = None) -> QuerySet[AuditLog]:
    """Entries, newest first, narrowed by whichever filters are given (None: any)."""
    entries = AuditLog.objects.order_by("-id")
    if action is not None:
        entries = entries.filter(action=action)
    if target_type is not None:
        entries = entries.filter(target_type=target_type)
    if target_id is not None:
        entries = entries.filter(target_id=target_id)
    return entries
