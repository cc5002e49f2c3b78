"""People, their consent, their enrollment photos, and the append-only audit log."""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils import timezone

from identities.storage import PrivateMediaStorage

# Encrypted at rest (identities/storage.py); the class keeps this module's name for the migrations.
private_storage = PrivateMediaStorage()


def random_photo_name(instance, filename: str) -> str:
    """Random names: nothing about the person or the original file name is on disk."""
    return str(PurePosixPath("enrollment") / secrets.token_hex(2) / f"{secrets.token_hex(16)}.img")


class Identity(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        ERASED = "erased"

    display_name = models.CharField(max_length=200)
    external_ref = models.CharField(max_length=200, unique=True, null=True, blank=True,
                                    help_text="Optional id in another system (unique).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    notes = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True, help_text="Where re-enrollment and consent notices go (optional).")
    # Free-form, optional, and only with the person's consent: evaluation reports break
    # their metrics down per value (e.g. {"cohort": "2024"}) so bias becomes visible.
    attributes = models.JSONField(default=dict, blank=True,
                                  help_text="Optional consented attributes, key -> value (e.g. cohort).")
    erasure_due_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                          help_text="Set when consent is withdrawn; erased by the sweeper then.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name", "id"]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return self.display_name if self.status == self.Status.ACTIVE else f"(erased #{self.pk})"


class Consent(models.Model):
    class GivenBy(models.TextChoices):
        SELF = "self", "the person"
        GUARDIAN = "guardian", "a guardian"
        OPERATOR = "operator", "an operator on their behalf"

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="consents")
    given_by = models.CharField(max_length=16, choices=GivenBy.choices, default=GivenBy.SELF)
    given_by_name = models.CharField(max_length=200, help_text="Who gave consent.")
    given_at = models.DateTimeField(default=timezone.now)
    purpose = models.TextField()
    wording_version = models.CharField(max_length=50)
    expires_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-given_at", "-id"]

    def __str__(self) -> str:
        return f"consent #{self.pk} for identity #{self.identity_id}"

    def is_valid(self, at=None) -> bool:
        at = at or timezone.now()
        if self.withdrawn_at is not None and self.withdrawn_at <= at:
            return False
        if self.expires_at is not None and self.expires_at <= at:
            return False
        return self.given_at <= at


class EnrollmentImage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        AWAITING_REVIEW = "awaiting_review"
        APPROVED = "approved"
        REJECTED = "rejected"
        FAILED = "failed"
        # Replaced by newer photos after a re-enrollment; the template is off, the photo
        # is kept (for audit) until the identity is erased.
        RETIRED = "retired"

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="images")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="images")
    file = models.FileField(storage=private_storage, upload_to=random_photo_name, max_length=200)
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=50, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    rejection_reason = models.CharField(max_length=50, blank=True, help_text="Machine-readable code.")
    rejection_detail = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    face_box = models.JSONField(null=True, blank=True, help_text="[x1, y1, x2, y2] in image pixels")
    # A photo with several significant faces (policy `review`): each one's box and detector
    # confidence, and which of them is the person's (preselected, or picked by a reviewer).
    faces = models.JSONField(default=list, blank=True, help_text="[{box, probability}] when several faces show")
    face_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The person's face in `faces`")
    requested_face_box = models.JSONField(null=True, blank=True,
                                          help_text="The face named at upload ([x1, y1, x2, y2]), if any")
    detection_probability = models.FloatField(null=True, blank=True)
    quality = models.JSONField(default=dict, blank=True)
    crop = models.FileField(storage=private_storage, upload_to=random_photo_name, max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["identity", "sha256"], name="unique_photo_per_identity"),
        ]

    def __str__(self) -> str:
        return f"photo #{self.pk} of identity #{self.identity_id} ({self.status})"
