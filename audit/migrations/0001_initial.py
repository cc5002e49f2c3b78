"""The audit log moves here from identities, in the migration state only.

The table (`identities_auditlog`), its rows, its append-only and no-truncate triggers and
its hash chain stay exactly as they are: no SQL runs on it. The content type is renamed so
permissions granted on it follow the model.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(old_app: str, new_app: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        if not ContentType.objects.filter(app_label=new_app, model="auditlog").exists():
            ContentType.objects.filter(app_label=old_app, model="auditlog").update(app_label=new_app)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("identities", "0005_auditlog_no_truncate_trigger"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.CreateModel(
            name='AuditLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('actor_name', models.CharField(blank=True, max_length=150)),
                ('action', models.CharField(db_index=True, max_length=64)),
                ('target_type', models.CharField(blank=True, max_length=64)),
                ('target_id', models.CharField(blank=True, db_index=True, max_length=64)),
                ('request_id', models.CharField(blank=True, max_length=64)),
                ('client_ip', models.GenericIPAddressField(blank=True, null=True)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('prev_hash', models.CharField(max_length=64)),
                ('entry_hash', models.CharField(max_length=64, unique=True)),
                ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'identities_auditlog',
                'ordering': ['id'],
            },
        )], database_operations=[]),
        migrations.RunPython(move_content_type("identities", "audit"), move_content_type("audit", "identities")),
    ]
