"""Django admin for evaluation reports: a view-only list.

Reports are requested and thresholds applied on the report pages (or the API), through
evaluation.services with their audit entries; nothing is edited or deleted here.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin import ViewOnlyAdmin
from evaluation.models import EvaluationReport


@admin.register(EvaluationReport)
class EvaluationReportAdmin(ViewOnlyAdmin):
    list_display = ["id", "kind", "status", "progress", "model_version", "scheduled", "created_by", "created_at",
                    "finished_at"]
    list_filter = ["kind", "status", "scheduled"]
    list_select_related = ["created_by"]
    search_fields = ["model_version", "progress_message", "error"]
    date_hierarchy = "created_at"
    actions = None
