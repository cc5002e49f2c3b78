"""The audit log now belongs to the audit app (audit/0001): state only, the table stays."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0005_auditlog_no_truncate_trigger'),
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name='AuditLog')],
                                            database_operations=[]),
    ]
