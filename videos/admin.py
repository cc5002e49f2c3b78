"""Django admin: video jobs and their tracks, view-only (written by the worker's services). No face crop
and no upload is shown or linked: crops are served only to readers of the person, by the pages."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ViewOnlyAdmin
from videos.models import Video, VideoTrack


@admin.register(Video)
class VideoAdmin(ViewOnlyAdmin):
    list_display = ("id", "status", "uploaded_by", "duration_s", "frames_decoded", "error_code", "created_at",
                    "finished_at")
    list_filter = ("status", "error_code")
    exclude = ("file",)
    actions = None  # written by the worker's services: nothing to act on


@admin.register(VideoTrack)
class VideoTrackAdmin(ViewOnlyAdmin):
    list_display = ("id", "video", "number", "identity", "score", "reason", "first_seen_s", "last_seen_s",
                    "frames_seen")
    list_filter = ("reason", "decided_by")
    list_select_related = ("video", "identity")
    exclude = ("crop",)
    raw_id_fields = ("video", "identity")
    actions = None
