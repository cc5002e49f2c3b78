"""Writing and verifying the hash-chained audit log.

`record()` appends one entry inside the caller's transaction. A transaction-level
advisory lock serialises appends, so each entry sees its true predecessor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from facerec_site import request_context
from identities.models import AuditLog

GENESIS_HASH = "0" * 64
_APPEND_LOCK_KEY = 0x61756469  # "audi": any constant shared by all writers


def _canonical(entry: AuditLog) -> bytes:
    content = {
        "created_at": entry.created_at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(entry: AuditLog) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def record(*, action: str, actor=None, target=None, details: dict[str, Any] | None = None) -> AuditLog:
    """Append an audit entry. `target` is a model instance (or None); no biometric data in details."""
    meta = request_context.current.get()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK_KEY])
        last = AuditLog.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        user = actor if getattr(actor, "is_authenticated", False) else None
        entry = AuditLog(
            created_at=timezone.now(),
            actor=user,
            actor_name=user.get_username() if user else "system",
            action=action,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            request_id=meta.request_id,
            client_ip=meta.client_ip,
            # Round-trip through JSON so the hash covers exactly what the database stores.
            details=json.loads(json.dumps(details or {}, default=str)),
            prev_hash=last or GENESIS_HASH,
        )
        entry.entry_hash = entry_hash(entry)
        entry.save()
    return entry


@dataclass
class ChainReport:
    checked: int
    first_broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify_chain() -> ChainReport:
    """Walk the log in order; report the first entry whose hash or link does not hold."""
    expected_prev = GENESIS_HASH
    checked = 0
    for entry in AuditLog.objects.order_by("id").iterator(chunk_size=2000):
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.pk, "previous-hash link broken (an entry before it was removed or altered)")
        if entry_hash(entry) != entry.entry_hash:
            return ChainReport(checked, entry.pk, "content does not match its hash (the entry was altered)")
        expected_prev = entry.entry_hash
        checked += 1
    return ChainReport(checked)
