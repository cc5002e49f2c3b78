"""Writing and verifying the hash-chained audit log, and its keyed checkpoints.

`record()` appends one entry inside the caller's transaction. A transaction-level
advisory lock serialises appends, so each entry sees its true predecessor.

The chain alone shows edited and removed rows, but not a cut-off tail or a chain
recomputed from scratch: anyone can compute SHA-256. A checkpoint, kept in a file outside
the database and signed with a key the database never sees, names the last entry seen
intact; a later check needs that entry to still be there with the same hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from audit.models import AuditLog
from core import request_context
from core.files import write_file_atomically

GENESIS_HASH = "0" * 64
_APPEND_LOCK_KEY = 0x61756469  # "audi": any constant shared by all writers
# Domain separation: the checkpoint key derived from SECRET_KEY signs nothing else.
_CHECKPOINT_SALT = "facerec.audit.checkpoint"
_GONE = "named by the checkpoint but gone (the log was cut short or rewritten)"


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


class CheckpointInvalid(Exception):
    """The checkpoint file cannot be read, or its signature does not hold."""


@dataclass(frozen=True)
class Checkpoint:
    last_id: int
    last_hash: str

    def _payload(self) -> str:
        return json.dumps({"last_id": self.last_id, "last_hash": self.last_hash}, sort_keys=True,
                          separators=(",", ":"))

    def signature(self) -> str:
        # FACEREC_AUDIT_KEY when set, else SECRET_KEY; the salt keeps the derived key for this use only.
        secret = settings.FACEREC_AUDIT_KEY or settings.SECRET_KEY
        return salted_hmac(_CHECKPOINT_SALT, self._payload(), secret=secret, algorithm="sha256").hexdigest()


def checkpoint_path() -> Path:
    return Path(settings.FACEREC_AUDIT_CHECKPOINT)


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint stored at `path`, None when there is none yet."""
    try:
        data = json.loads(path.read_text())
        checkpoint = Checkpoint(last_id=int(data["last_id"]), last_hash=str(data["last_hash"]))
        signature = str(data["hmac"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CheckpointInvalid(f"checkpoint {path} is unreadable ({exc})") from exc
    if not constant_time_compare(signature, checkpoint.signature()):
        raise CheckpointInvalid(f"checkpoint {path} is not signed with this site's audit key "
                                "(forged, or FACEREC_AUDIT_KEY / SECRET_KEY changed since it was written)")
    return checkpoint


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the file atomically (a crash leaves the old checkpoint or the new one), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"last_id": checkpoint.last_id, "last_hash": checkpoint.last_hash, "hmac": checkpoint.signature()}
    write_file_atomically(path, (json.dumps(body, indent=2) + "\n").encode())


@dataclass
class ChainReport:
    checked: int
    first_broken_id: int | None = None
    problem: str = ""
    last: Checkpoint | None = None  # the last entry verified, when the chain holds

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify_chain(checkpoint: Checkpoint | None = None) -> ChainReport:
    """Walk the log in order; report the first entry whose hash or link does not hold, and,
    given a checkpoint, whether the entry it names is still there with the hash it had."""
    expected_prev = GENESIS_HASH
    checked = 0
    last = None
    pending = checkpoint  # not reached yet
    for entry in AuditLog.objects.order_by("id").iterator(chunk_size=2000):
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.pk, "previous-hash link broken (an entry before it was removed or altered)")
        if entry_hash(entry) != entry.entry_hash:
            return ChainReport(checked, entry.pk, "content does not match its hash (the entry was altered)")
        if pending is not None and entry.pk >= pending.last_id:
            if entry.pk > pending.last_id:
                return ChainReport(checked, pending.last_id, _GONE)
            if entry.entry_hash != pending.last_hash:
                return ChainReport(checked, entry.pk, "hash differs from the checkpoint's "
                                                      "(the log was rewritten up to here)")
            pending = None
        expected_prev = entry.entry_hash
        checked += 1
        last = Checkpoint(entry.pk, entry.entry_hash)
    if pending is not None:
        return ChainReport(checked, pending.last_id, _GONE)
    return ChainReport(checked, last=last)
