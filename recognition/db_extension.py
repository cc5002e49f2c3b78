"""The migration operation that installs pgvector, stopping `migrate` with what to do when it cannot.

recognition 0001 runs it. Each way it can fail on a real server (the role may not create
extensions, the server has no pgvector or too old a one, an installed pgvector is too old)
ends `migrate` with one line naming the fix: a CommandError, which BaseCommand prints as
`CommandError: ...` before exiting 1, with no traceback. The PostgreSQL server's own minimum
(14, Django 5.2's) needs no check here: Django refuses an older server on connect, before
any migration runs.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DatabaseError, router, transaction
from pgvector.django import VectorExtension

# pgvector 0.8.0: identify sets hnsw.iterative_scan (recognition.selectors.nearest_identities),
# which older versions refuse ("hnsw." is their reserved prefix). HNSW alone would need 0.5.0.
MINIMUM_PGVECTOR = (0, 8, 0)
INSUFFICIENT_PRIVILEGE = "42501"  # SQLSTATE


def parse_version(text: str) -> tuple[int, ...]:
    """'0.8.1' -> (0, 8, 1); what follows the leading numbers ('-beta1', 'dev') is ignored."""
    numbers = []
    for part in text.strip().split("."):
        digits = part[:len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            break
        numbers.append(int(digits))
        if digits != part:
            break
    return tuple(numbers)


def version_at_least(version: str, minimum: tuple[int, ...] = MINIMUM_PGVECTOR) -> bool:
    """Whether an extension's version string is `minimum` or later ('0.8' counts as 0.8.0)."""
    parsed = parse_version(version)
    if not parsed:
        return False  # unreadable: better an update asked for than a run on an unknown version
    width = max(len(parsed), len(minimum))
    return parsed + (0,) * (width - len(parsed)) >= tuple(minimum) + (0,) * (width - len(minimum))


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def _one_value(connection, sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


class EnsureVectorExtension(VectorExtension):
    """CREATE EXTENSION vector when it is missing, or a one-line CommandError saying who must do what.

    The reverse stays VectorExtension's (DROP EXTENSION IF EXISTS vector, never CASCADE: it
    fails rather than drop another app's vector columns), so `migrate recognition zero` acts
    as before. The migration state is untouched, so databases that applied 0001 with the
    plain VectorExtension see no change.
    """

    minimum = MINIMUM_PGVECTOR

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or not router.allow_migrate(connection.alias, app_label):
            return
        installed = _one_value(connection, "SELECT extversion FROM pg_extension WHERE extname = %s", [self.name])
        if installed is None:
            self._create(connection)
        elif not version_at_least(installed, self.minimum):
            raise CommandError(self._too_old_message(connection, installed))
        # The parent now finds the extension installed: it only refreshes the type handlers.
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def _available(self, connection) -> str | None:
        """The version CREATE EXTENSION would install (the server's package), None without one."""
        return _one_value(connection, "SELECT default_version FROM pg_available_extensions WHERE name = %s",
                          [self.name])

    def _install_hint(self, connection) -> str:
        major = connection.pg_version // 10000
        return (f"install pgvector {dotted(self.minimum)} or later on the database server (Debian/Ubuntu: package "
                f"postgresql-{major}-pgvector from the PostgreSQL apt repository, apt.postgresql.org)")

    def _create(self, connection) -> None:
        available = self._available(connection)
        if available is None:
            raise CommandError(
                f'The PostgreSQL {connection.pg_version // 10000} server has no pgvector (extension "{self.name}" '
                f"is not available): {self._install_hint(connection)}, then run migrate again.")
        if not version_at_least(available, self.minimum):
            raise CommandError(
                f"The PostgreSQL server's pgvector is {available}, the platform needs {dotted(self.minimum)} or "
                f"later: {self._install_hint(connection)}, then run migrate again.")
        # In a savepoint: a refused CREATE must not abort the migration's transaction (the
        # query below, and the rest of migrate, still use it).
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute(f"CREATE EXTENSION IF NOT EXISTS {connection.ops.quote_name(self.name)}")
        except DatabaseError as exc:
            cause = exc.__cause__ or exc
            # The server's names, not the settings': USER may be empty (PGUSER, the login name).
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, current_database()")
                user, database = cursor.fetchone()
            server_says = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
            if getattr(cause, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                reason = f'database user "{user}" may not create the pgvector extension ({server_says})'
            else:  # e.g. Azure's allow-list: the server's own words say what is missing
                reason = f'creating the pgvector extension as database user "{user}" failed ({server_says})'
            raise CommandError(
                f'{reason}: an administrator must run "CREATE EXTENSION {self.name};" in database "{database}" as '
                f"a superuser (on managed services, the admin role), then run migrate again.") from exc

    def _too_old_message(self, connection, installed: str) -> str:
        database = _one_value(connection, "SELECT current_database()")
        available = self._available(connection)
        first = ""
        if available is None or not version_at_least(available, self.minimum):
            first = f"first {self._install_hint(connection)} (the server has {available or 'none'}), then "
        return (f'pgvector {installed} is installed in database "{database}", the platform needs '
                f"{dotted(self.minimum)} or later: {first}an administrator (a superuser or the extension's owner) "
                f'must run "ALTER EXTENSION {self.name} UPDATE;" in that database, then run migrate again.')

    def describe(self):
        return f"Creates extension {self.name} (pgvector {dotted(self.minimum)} or later)"
