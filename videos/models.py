"""A video file identified as a worker job: the job's state, then one row per track (a face followed
across the sampled frames), decided once as identify decides a face.

The uploaded file is a probe: it is kept (unencrypted, in private storage: it is streamed, not read
whole) only until the job ends. Crops are kept only for identified tracks, encrypted like
enrollment photos; results expire after FACEREC_VIDEO_RESULT_DAYS.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models

from identities.models import Identity, private_storage


class PrivateVideoStorage(FileSystemStorage):
    """Uploads under MEDIA_ROOT/videos (0600), no URL; the location follows MEDIA_ROOT at each use."""

    def __init__(self):
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self):
        return os.path.join(settings.MEDIA_ROOT, "videos")

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("videos are private and have no URL")


video_storage = PrivateVideoStorage()


def random_video_name(instance, filename: str) -> str:
    return f"{secrets.token_hex(16)}.video"


def random_crop_name(instance, filename: str) -> str:
    return f"video-crops/{secrets.token_hex(16)}"


class Video(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    original_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # Emptied (and the file deleted) as soon as the job ends, whatever its outcome.
    file = models.FileField(storage=video_storage, upload_to=random_video_name, max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=50, blank=True, help_text="Machine-readable reason of a failure.")
    error_detail = models.TextField(blank=True)
    # What the decoder said of the file, then how far the job is.
    container = models.CharField(max_length=50, blank=True)
    codec = models.CharField(max_length=50, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    sample_fps = models.FloatField(null=True, blank=True)
    progress = models.FloatField(default=0.0, help_text="Share of the duration decoded, 0 to 1.")
    frames_decoded = models.PositiveIntegerField(default=0)
    faces_found = models.PositiveIntegerField(default=0)
    model_version = models.CharField(max_length=100, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"video #{self.pk} ({self.status})"


class VideoTrack(models.Model):
    """One face followed through the video, decided once: an identity, or `unknown` with a reason."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="tracks")
    number = models.PositiveIntegerField(help_text="1, 2, ... in order of first appearance")
    # Erasing a person deletes their tracks (videos.services), so this never dangles.
    identity = models.ForeignKey(Identity, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(null=True, blank=True, help_text="The best candidate's calibrated score")
    decided_by = models.CharField(max_length=50, blank=True)
    reason = models.CharField(max_length=50, blank=True, help_text="Why `unknown` (empty when identified)")
    first_seen_s = models.FloatField()
    last_seen_s = models.FloatField()
    frames_seen = models.PositiveIntegerField()
    best_time_s = models.FloatField(help_text="When the best frame was taken")
    best_box = models.JSONField(help_text="[x1, y1, x2, y2] of the face in the best frame")
    liveness = models.JSONField(null=True, blank=True)
    # Identified tracks only (people who consented), encrypted like enrollment photos.
    crop = models.FileField(storage=private_storage, upload_to=random_crop_name, max_length=200, blank=True)

    class Meta:
        ordering = ["video", "number"]
        constraints = [models.UniqueConstraint(fields=["video", "number"], name="unique_track_number")]

    def __str__(self) -> str:
        return f"track {self.number} of video #{self.video_id}"
