"""What every machine of one deployment must share, as fingerprints a new worker compares."""

from django.db import models


class SharedSetting(models.Model):
    """One setting's reference fingerprint, recorded by the site (at `migrate`), never the secret itself:
    an HMAC of SECRET_KEY, a token only the photo keys decrypt, the weights' version."""

    name = models.CharField(max_length=50, unique=True)
    fingerprint = models.TextField()
    recorded_by = models.CharField(max_length=255, help_text="host and process that recorded it")
    recorded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name
