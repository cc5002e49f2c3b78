"""The audit log is append-only and hash-chained; verify_audit_log finds tampering, and its
signed checkpoint finds a cut-off tail or a chain recomputed from scratch."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import services as audit
from audit.models import AuditLog
from core import request_context
from identities import services

pytestmark = pytest.mark.django_db


def _entries(n: int = 3) -> list[AuditLog]:
    identity = services.create_identity(display_name="Ada")
    for i in range(n - 1):
        services.update_identity(identity=identity, notes=f"note {i}")
    return list(AuditLog.objects.order_by("id"))


@pytest.fixture(autouse=True)
def checkpoint(settings, tmp_path) -> Path:
    settings.FACEREC_AUDIT_CHECKPOINT = tmp_path / "audit" / "checkpoint.json"
    return settings.FACEREC_AUDIT_CHECKPOINT


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def _tamper(sql: str, params) -> None:
    """What someone with database access could do: bypass the trigger and edit rows."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE identities_auditlog DISABLE TRIGGER identities_auditlog_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE identities_auditlog ENABLE TRIGGER identities_auditlog_append_only")


def test_each_entry_links_to_the_previous_and_the_chain_verifies():
    entries = _entries(4)

    assert entries[0].prev_hash == audit.GENESIS_HASH
    for before, after in zip(entries, entries[1:]):
        assert after.prev_hash == before.entry_hash
    assert "4 entries verified" in _verify()


def test_an_altered_entry_is_reported_with_its_id():
    entries = _entries(4)
    _tamper("UPDATE identities_auditlog SET details = %s WHERE id = %s", ['{"external_ref": "forged"}', entries[1].pk])

    with pytest.raises(CommandError, match=f"entry #{entries[1].pk}: content does not match"):
        _verify()


def test_a_removed_entry_breaks_the_link_of_the_next_one():
    entries = _entries(4)
    _tamper("DELETE FROM identities_auditlog WHERE id = %s", [entries[2].pk])

    with pytest.raises(CommandError, match=f"entry #{entries[3].pk}: previous-hash link broken"):
        _verify()


def _recompute_chain_from(entry_id: int) -> None:
    """What someone without the checkpoint key can still do: make every hash agree again."""
    entries = list(AuditLog.objects.order_by("id"))
    prev = audit.GENESIS_HASH
    for entry in entries:
        if entry.pk >= entry_id:
            entry.prev_hash = prev
            entry.entry_hash = audit.entry_hash(entry)
            _tamper("UPDATE identities_auditlog SET prev_hash = %s, entry_hash = %s WHERE id = %s",
                    [entry.prev_hash, entry.entry_hash, entry.pk])
        prev = entry.entry_hash


def test_the_first_run_writes_a_signed_checkpoint_only_its_owner_can_read(checkpoint):
    entries = _entries(3)

    assert "no checkpoint" in _verify()
    stored = json.loads(checkpoint.read_text())
    assert (stored["last_id"], stored["last_hash"]) == (entries[-1].pk, entries[-1].entry_hash)
    assert len(stored["hmac"]) == 64
    assert oct(os.stat(checkpoint).st_mode & 0o777) == "0o600"
    assert [path.name for path in checkpoint.parent.iterdir()] == [checkpoint.name]  # no temporary file left


def test_each_check_moves_the_checkpoint_to_the_last_entry(checkpoint):
    _entries(3)
    _verify()
    newest = audit.record(action="test.later")

    assert "no checkpoint" not in _verify()
    assert json.loads(checkpoint.read_text())["last_id"] == newest.pk


def test_entries_cut_off_the_end_after_a_checkpoint_are_reported(checkpoint):
    entries = _entries(4)
    _verify()
    audit.record(action="test.later")
    before = checkpoint.read_text()
    _tamper("DELETE FROM identities_auditlog WHERE id >= %s", [entries[-1].pk])

    assert audit.verify_chain().ok  # the chain alone cannot tell
    with pytest.raises(CommandError, match=f"entry #{entries[-1].pk}: named by the checkpoint but gone"):
        _verify()
    assert checkpoint.read_text() == before  # a failed check does not move the checkpoint


def test_an_emptied_log_is_reported():
    entries = _entries(2)
    _verify()
    _tamper("DELETE FROM identities_auditlog", [])

    with pytest.raises(CommandError, match=f"entry #{entries[-1].pk}: named by the checkpoint but gone"):
        _verify()


def test_a_chain_recomputed_without_the_key_is_reported():
    entries = _entries(4)
    _verify()
    _tamper("UPDATE identities_auditlog SET details = %s WHERE id = %s", ['{"external_ref": "forged"}', entries[1].pk])
    _recompute_chain_from(entries[1].pk)

    assert audit.verify_chain().ok  # every hash agrees again
    with pytest.raises(CommandError, match=f"entry #{entries[-1].pk}: hash differs from the checkpoint's"):
        _verify()


def test_a_removed_entry_with_the_chain_recomputed_is_reported():
    entries = _entries(4)
    _verify()
    _tamper("DELETE FROM identities_auditlog WHERE id = %s", [entries[1].pk])
    _recompute_chain_from(entries[2].pk)

    with pytest.raises(CommandError, match=f"entry #{entries[-1].pk}: hash differs from the checkpoint's"):
        _verify()


def test_a_checkpoint_edited_without_the_key_is_refused(checkpoint):
    entries = _entries(4)
    _verify()
    _tamper("DELETE FROM identities_auditlog WHERE id >= %s", [entries[2].pk])
    # Point the checkpoint back at a surviving entry to hide the cut.
    forged = {**json.loads(checkpoint.read_text()), "last_id": entries[1].pk, "last_hash": entries[1].entry_hash}
    checkpoint.write_text(json.dumps(forged))

    with pytest.raises(CommandError, match="not signed with this site's audit key"):
        _verify()


def test_the_checkpoint_is_signed_with_FACEREC_AUDIT_KEY_when_set(settings):
    _entries(2)
    settings.FACEREC_AUDIT_KEY = "an audit key kept apart from SECRET_KEY"
    _verify()

    settings.FACEREC_AUDIT_KEY = ""  # signed with the key derived from SECRET_KEY instead
    with pytest.raises(CommandError, match="not signed with this site's audit key"):
        _verify()


def test_the_orm_refuses_updates_and_deletes():
    entry = _entries(1)[0]
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.filter(pk=entry.pk).update(action="nothing")
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()


def test_the_database_refuses_updates_and_deletes_too():
    entry = _entries(1)[0]
    for sql in ("UPDATE identities_auditlog SET action = 'x' WHERE id = %s",
                "DELETE FROM identities_auditlog WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])


def test_the_database_refuses_truncate():
    _entries(1)
    with connection.cursor() as cursor:
        # Off in the test database so flushes between tests can empty the table; on everywhere else.
        cursor.execute("ALTER TABLE identities_auditlog ENABLE TRIGGER identities_auditlog_no_truncate")
        with pytest.raises(DatabaseError, match=r"append-only \(TRUNCATE refused\)"), transaction.atomic():
            cursor.execute("TRUNCATE identities_auditlog")
    assert AuditLog.objects.count() == 1


def test_entries_record_actor_request_id_and_client_ip(admin_user):
    token = request_context.current.set(request_context.RequestMeta(request_id="req-42", client_ip="10.1.2.3"))
    try:
        services.create_identity(display_name="Ada", actor=admin_user)
    finally:
        request_context.current.reset(token)

    entry = AuditLog.objects.get(action="identity.create")
    assert (entry.actor_id, entry.actor_name) == (admin_user.pk, admin_user.username)
    assert (entry.request_id, entry.client_ip) == ("req-42", "10.1.2.3")
    assert entry.target_type == "identities.identity"
