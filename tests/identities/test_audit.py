"""The audit log is append-only and hash-chained; verify_audit_log finds tampering."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from facerec_site import request_context
from identities import audit, services
from identities.models import AuditLog

pytestmark = pytest.mark.django_db


def _entries(n: int = 3) -> list[AuditLog]:
    identity = services.create_identity(display_name="Ada")
    for i in range(n - 1):
        services.update_identity(identity=identity, notes=f"note {i}")
    return list(AuditLog.objects.order_by("id"))


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
