"""Django admin for recognition: the history of applied thresholds, view-only.

A threshold is applied through recognition.services.set_threshold (with its audit entry),
from an evaluation report; the history is never edited or deleted here.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin import ViewOnlyAdmin
from recognition.models import RecognitionThreshold


@admin.register(RecognitionThreshold)
class RecognitionThresholdAdmin(ViewOnlyAdmin):
    list_display = ["kind", "value", "model_version", "source", "set_by", "set_at"]
    list_filter = ["kind", "model_version"]
    list_select_related = ["set_by"]
    search_fields = ["source", "model_version", "set_by_name"]
    date_hierarchy = "set_at"
    actions = None  # append-only: no bulk delete, nothing to act on
