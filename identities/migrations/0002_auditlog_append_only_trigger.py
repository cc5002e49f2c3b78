"""The database itself refuses UPDATE and DELETE on the audit log."""

from django.db import migrations

CREATE = """
CREATE FUNCTION identities_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER identities_auditlog_append_only
    BEFORE UPDATE OR DELETE ON identities_auditlog
    FOR EACH ROW EXECUTE FUNCTION identities_auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS identities_auditlog_append_only ON identities_auditlog;
DROP FUNCTION IF EXISTS identities_auditlog_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("identities", "0001_initial")]
    operations = [migrations.RunSQL(CREATE, DROP)]
