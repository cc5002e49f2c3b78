"""Signed webhooks: who receives which events (Subscription), the outbox of events written in the
transaction that caused them (Event), one Delivery per event and subscription, and every attempt."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class EventType(models.TextChoices):
    IDENTIFIED = "identify.identified"
    UNKNOWN = "identify.unknown"
    VERIFY_COMPLETED = "verify.completed"
    LIVENESS_FAILED = "liveness.failed"
    PHOTO_AWAITING_REVIEW = "photo.awaiting_review"
    PHOTO_APPROVED = "photo.approved"
    PHOTO_REJECTED = "photo.rejected"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    CONSENT_EXPIRED = "consent.expired"
    IDENTITY_ERASED = "identity.erased"
    REENROLLMENT_REQUESTED = "reenrollment.requested"
    REPORT_FINISHED = "report.finished"
    VIDEO_FINISHED = "video.finished"
    VIDEO_FAILED = "video.failed"
    CAMERA_SIGHTING = "camera.sighting"
    CAMERA_UNKNOWN = "camera.unknown"
    CAMERA_LIVENESS_FAILED = "camera.liveness_failed"


class Subscription(models.Model):
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list)  # EventType values
    enabled = models.BooleanField(default=True)
    # Fernet tokens (webhooks.secrets): the signing secret is never stored in clear.
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Opt-in (audited): the person's name is added to the payload when it is sent, never stored in it.
    include_names = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=500, blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"webhook #{self.pk}"

    @property
    def active(self) -> bool:
        return self.enabled and self.paused_at is None


class Event(models.Model):
    """The outbox: written inside the caller's transaction, so an event exists iff its cause committed."""

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    payload = models.JSONField(default=dict)  # ids, decisions, scores, times: never names or images
    identity_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # order key, not a foreign key
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["subscription", "status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"delivery #{self.pk}"


class DeliveryAttempt(models.Model):
    """One POST: what the receiver answered (or why nothing was sent), kept for the admin and replay."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
