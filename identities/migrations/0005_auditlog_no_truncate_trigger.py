"""The database refuses TRUNCATE on the audit log too (row triggers do not see it).

A `manage.py flush` or a stray TRUNCATE would otherwise empty the log in one statement.
The test database switches this trigger off (tests/conftest.py): its flushes between
transactional tests truncate every table.
"""

from django.db import migrations

CREATE = """
CREATE TRIGGER identities_auditlog_no_truncate
    BEFORE TRUNCATE ON identities_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION identities_auditlog_append_only();
"""

DROP = "DROP TRIGGER IF EXISTS identities_auditlog_no_truncate ON identities_auditlog;"


class Migration(migrations.Migration):
    dependencies = [("identities", "0004_contact_email_retired_photos")]
    operations = [migrations.RunSQL(CREATE, DROP)]
