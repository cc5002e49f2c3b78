"""Re-enrollment requests and the per-identity overrides of the re-enrollment policy."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdentityPolicy(models.Model):
    """Per-identity overrides; an empty field means the FACEREC_REENROLL_* setting applies."""

    identity = models.OneToOneField("identities.Identity", on_delete=models.CASCADE,
                                    related_name="reenrollment_policy")
    max_template_age_days = models.PositiveIntegerField(null=True, blank=True)
    min_active_photos = models.PositiveIntegerField(null=True, blank=True)
    max_active_photos = models.PositiveIntegerField(null=True, blank=True,
                                                    help_text="After a re-enrollment, older templates beyond this "
                                                              "many are retired.")
    drift_margin = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "identity policies"

    def __str__(self) -> str:
        return f"re-enrollment policy of identity #{self.identity_id}"


class ReenrollmentRequest(models.Model):
    class Reason(models.TextChoices):
        TEMPLATE_AGE = "template_age", "templates too old"
        TOO_FEW_PHOTOS = "too_few_photos", "too few active photos"
        DRIFT = "drift", "recent matches drifted below the enrollment baseline"

    class Status(models.TextChoices):
        OPEN = "open"
        FULFILLED = "fulfilled"
        DISMISSED = "dismissed"
        EXPIRED = "expired"

    identity = models.ForeignKey("identities.Identity", on_delete=models.CASCADE,
                                 related_name="reenrollment_requests")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    details = models.JSONField(default=dict, blank=True, help_text="The figures that broke the rule.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    due_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A rule broken twice while its request is open raises nothing new.
            models.UniqueConstraint(fields=["identity", "reason"], condition=models.Q(status="open"),
                                    name="one_open_request_per_identity_and_reason"),
        ]

    def __str__(self) -> str:
        return f"re-enrollment request #{self.pk} ({self.reason}, {self.status}) for identity #{self.identity_id}"
