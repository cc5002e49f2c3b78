"""The audit log in the Django admin: view-only; the ORM and the database refuse changes anyway."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditLog
from core.admin import ViewOnlyAdmin


@admin.register(AuditLog)
class AuditLogAdmin(ViewOnlyAdmin):
    list_display = ["id", "created_at", "actor_name", "action", "target_type", "target_id", "request_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["action", "target_id", "actor_name", "request_id"]
    date_hierarchy = "created_at"
    actions = None  # append-only: no bulk delete, nothing to act on
