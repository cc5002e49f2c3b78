"""Enable pgvector: embeddings are stored as `vector(512)` columns.

EnsureVectorExtension (recognition.db_extension) creates it, or stops `migrate` with one line
saying what an administrator must run; it changes no state, so databases migrated with the
plain VectorExtension before are unaffected.
"""

from django.db import migrations

from recognition.db_extension import EnsureVectorExtension


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [EnsureVectorExtension()]
