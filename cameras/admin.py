"""Django admin: cameras, watchers and sightings, view-only (cameras are managed on their page and API,
audited; the rest is written by the watchers). The sealed stream URL is never shown, only its masked
form, and no face crop is shown or linked."""

from __future__ import annotations

from django.contrib import admin

from cameras.models import Camera, Sighting, Watcher
from core.admin import ViewOnlyAdmin


@admin.register(Camera)
class CameraAdmin(ViewOnlyAdmin):
    list_display = ("id", "name", "url_display", "enabled", "state", "fps", "error_code", "lease_owner")
    list_filter = ("enabled", "state", "liveness")
    exclude = ("url_sealed",)
    actions = None


@admin.register(Watcher)
class WatcherAdmin(ViewOnlyAdmin):
    list_display = ("name", "started_at", "heartbeat_at")
    actions = None


@admin.register(Sighting)
class SightingAdmin(ViewOnlyAdmin):
    list_display = ("id", "camera", "identity", "score", "reason", "first_seen", "last_seen", "tracks")
    list_filter = ("reason", "camera")
    list_select_related = ("camera", "identity")
    exclude = ("crop",)
    raw_id_fields = ("camera", "identity")
    actions = None
