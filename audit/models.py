"""The audit log: one append-only, hash-chained table of every sensitive action."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("the audit log is append-only")

    def delete(self):
        raise PermissionError("the audit log is append-only")


class AuditLog(models.Model):
    """Append-only, hash-chained record of every sensitive action.

    Each entry's `entry_hash` covers its content and the previous entry's hash, so
    changing or removing a row breaks the chain (`manage.py verify_audit_log`); a signed
    checkpoint outside the database catches a cut-off tail or a recomputed chain. The
    ORM refuses updates and deletes, and database triggers refuse them and TRUNCATE too.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # No FK constraint and no cascade: deleting a user must not touch (or be blocked by)
    # the append-only rows; actor_name keeps who it was.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              related_name="+", db_constraint=False)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        # The table keeps the name it had in identities (moved here without touching a row).
        db_table = "identities_auditlog"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit log is append-only")
