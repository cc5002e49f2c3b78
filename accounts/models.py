"""Accounts: the capability permissions (see accounts.roles) and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Capability(models.Model):
    """No table: only the owner of the capability permissions that accounts.roles defines."""

    class Meta:
        managed = False
        default_permissions = ()


class ApiToken(models.Model):
    """One API client's credential, e.g. a door kiosk's: `frk_<prefix>_<secret>`, acting as `user`.

    Only the SHA-256 of the secret is kept (the secret holds 256 random bits, so a fast hash
    is enough); the whole token is shown once, when it is made. `prefix` is public: it
    finds the row and names the token in lists and logs.
    """

    class State(models.TextChoices):
        ACTIVE = "active", "active"
        EXPIRED = "expired", "expired"
        REVOKED = "revoked", "revoked"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
                             help_text="The account the token acts as.")
    name = models.CharField(max_length=100, help_text='A label, e.g. "door-kiosk-3".')
    prefix = models.CharField(max_length=16, unique=True, help_text="Public id of the token, its first part.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the secret part.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="To the minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def state_at(self, now) -> str:
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return self.State.EXPIRED
        return self.State.ACTIVE

    @property
    def state(self) -> str:
        return self.state_at(timezone.now())
