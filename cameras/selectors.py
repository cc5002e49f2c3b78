"""Reads of the cameras app: the cameras, their sightings, whose crops a user may see, the states
/healthz shows."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.roles import can
from cameras.models import Camera, Sighting, Watcher


def cameras() -> QuerySet[Camera]:
    return Camera.objects.all()


def sightings_of(camera: Camera, *, identified: bool | None = None) -> QuerySet[Sighting]:
    rows = Sighting.objects.filter(camera=camera).select_related("identity").order_by("-last_seen", "-id")
    if identified is not None:
        rows = rows.filter(identity__isnull=not identified)
    return rows


def sees_crop(user, sighting: Sighting) -> bool:
    """Identified people's crops: whoever manages cameras and may see faces; unknown people's (kept only where
    the camera says so, for hours): the same, which is the admin role."""
    return bool(sighting.crop) and can(user, "manage_cameras") and can(user, "view_faces")


def live_watchers() -> QuerySet[Watcher]:
    return Watcher.objects.filter(
        heartbeat_at__gte=timezone.now() - timedelta(seconds=settings.FACEREC_CAMERA_LEASE_S))


def camera_states() -> dict:
    """For /healthz's detail: each camera's state and the live watchers. Not ok only when cameras are enabled
    and no watcher reads any (a camera's own trouble shows in its state, and does not make the site down)."""
    rows = list(Camera.objects.order_by("pk").values(
        "pk", "name", "enabled", "state", "state_at", "last_frame_at", "fps", "error_code", "reconnects",
        "lease_owner", "lease_until"))
    now = timezone.now()
    watchers = list(live_watchers().values_list("name", flat=True))
    states = [{"id": row["pk"], "name": row["name"], "enabled": row["enabled"],
               "state": row["state"] if row["lease_until"] and row["lease_until"] >= now else Camera.State.IDLE,
               "watcher": row["lease_owner"] if row["lease_until"] and row["lease_until"] >= now else "",
               "last_frame_at": row["last_frame_at"].isoformat() if row["last_frame_at"] else None,
               "fps": row["fps"], "error_code": row["error_code"], "reconnects": row["reconnects"]}
              for row in rows]
    ok = not (any(row["enabled"] for row in rows) and not watchers)
    return {"ok": ok, "watchers": len(watchers), "cameras": states,
            **({} if ok else {"error": "cameras are enabled but no watcher is running"})}
