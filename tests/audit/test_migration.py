"""Moving the audit log from identities to its own app changes the migration state only: a database
migrated before the move keeps every row as written (same tuple, same transaction id), its triggers,
and a chain that still verifies."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit import services as audit
from audit.models import AuditLog

BEFORE_THE_MOVE = [("identities", "0005_auditlog_no_truncate_trigger"), ("audit", None)]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text, ctid::text, entry_hash FROM identities_auditlog ORDER BY id")
        return cursor.fetchall()


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'identities_auditlog'::regclass "
                       "AND NOT tgisinternal")
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_moves_the_audit_log_without_rewriting_a_row():
    _migrate(BEFORE_THE_MOVE)
    try:
        # The database as it was: entries written, the content type under identities.
        ContentType.objects.filter(model="auditlog").delete()
        old_type = ContentType.objects.create(app_label="identities", model="auditlog")
        for n in range(5):
            audit.record(action="test.before_the_move", details={"n": n})
        rows, triggers = _rows(), _triggers()
        assert len(rows) == 5 and triggers >= {"identities_auditlog_append_only", "identities_auditlog_no_truncate"}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert _rows() == rows  # no UPDATE touched them: the same tuples, written by the same transactions
    assert _triggers() == triggers
    report = audit.verify_chain()
    assert report.ok and report.checked == 5
    assert AuditLog.objects.count() == 5
    moved = ContentType.objects.get(pk=old_type.pk)
    assert (moved.app_label, moved.model) == ("audit", "auditlog")  # permissions on it follow the model
    audit.record(action="test.after_the_move")
    assert audit.verify_chain().checked == 6
