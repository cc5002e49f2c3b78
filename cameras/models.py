"""Cameras watched live, the watchers reading them, and what they saw (one sighting per decided track).

A camera's stream URL is stored sealed (it may carry credentials); only its redacted form is shown.
A camera is read by one watcher at a time: the watcher that holds its lease (`lease_owner` until
`lease_until`), renewed by heartbeat, taken over once it lapses.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from identities.models import Identity, private_storage


class Camera(models.Model):
    class Liveness(models.TextChoices):
        OFF = "off"
        REPORT = "report"
        ENFORCE = "enforce"

    class State(models.TextChoices):
        IDLE = "idle"  # no watcher holds it (or it is disabled)
        CONNECTING = "connecting"
        CONNECTED = "connected"
        ERROR = "error"  # the last attempt failed; retried with backoff

    name = models.CharField(max_length=100, unique=True)
    url_sealed = models.TextField(help_text="The stream URL, sealed (core.sealed): it may carry credentials.")
    url_display = models.CharField(max_length=500, help_text="The URL with its credentials masked.")
    enabled = models.BooleanField(default=True)
    sample_fps = models.FloatField(default=5.0)
    min_face_px = models.PositiveIntegerField(default=40, help_text="Smaller faces are not followed.")
    liveness = models.CharField(max_length=10, choices=Liveness.choices, default=Liveness.OFF)
    record_unknown = models.BooleanField(default=True, help_text="Write sightings of people nobody enrolled.")
    keep_unknown_crops = models.BooleanField(
        default=False, help_text="Keep unknown people's face crops (admins only, FACEREC_UNKNOWN_CROP_HOURS).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Which watcher reads it, until when (renewed by its heartbeat).
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # What its watcher last reported.
    state = models.CharField(max_length=20, choices=State.choices, default=State.IDLE)
    state_at = models.DateTimeField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True, help_text="Frames looked at per second, lately.")
    error_code = models.CharField(max_length=50, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    reconnects = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Watcher(models.Model):
    """A watcher process (started by `make run`, or `manage.py watch_cameras` on another machine)."""

    name = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


def random_crop_name(instance, filename: str) -> str:
    return f"sighting-crops/{secrets.token_hex(16)}"


class Sighting(models.Model):
    """One person seen at a camera: a decided track, or several of the same person within the cooldown."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="sightings")
    # Erasing a person deletes their sightings (cameras.services), so this never dangles.
    identity = models.ForeignKey(Identity, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(null=True, blank=True, help_text="The best candidate's calibrated score")
    threshold = models.FloatField(null=True, blank=True)
    decided_by = models.CharField(max_length=50, blank=True)
    reason = models.CharField(max_length=50, blank=True, help_text="Why `unknown` (empty when identified)")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    frames_seen = models.PositiveIntegerField(default=0)
    tracks = models.PositiveIntegerField(default=1, help_text="Tracks merged into it (the cooldown)")
    liveness = models.JSONField(null=True, blank=True)
    # Identified people's best crop; unknown people's only where the camera keeps them, until crop_expires_at.
    crop = models.FileField(storage=private_storage, upload_to=random_crop_name, max_length=200, blank=True)
    crop_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        indexes = [models.Index(fields=["camera", "identity", "-last_seen"], name="sighting_repeat")]

    def __str__(self) -> str:
        return f"sighting #{self.pk} at {self.camera_id}"
