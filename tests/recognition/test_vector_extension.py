"""recognition 0001 (recognition.db_extension) on a managed-style database: a role that may not create
pgvector gets one line saying what an administrator must run, and migrate succeeds once they have.

On the session's embedded server (superuser `postgres`) each run gets a throwaway LOGIN role
(NOSUPERUSER) and a throwaway database it does not own and holds no CREATE on, where it may
create tables in `public` (what the app's role needs) but not the extension: pgvector's control
file is not `trusted`, and were it, CREATE on the database would still be missing. `manage.py
migrate` runs as that role in a subprocess, with both URLs set so that it starts no server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from recognition.db_extension import EnsureVectorExtension, parse_version, version_at_least
from tests.conftest import REPO_ROOT, database_url

# A whole migrate as the role takes 3-4 s here; a hung one must fail this test, not hang the session.
MIGRATE_TIMEOUT_S = 180


@dataclass
class Throwaway:
    role: str
    password: str
    database: str
    admin: dict  # psycopg connect() arguments of the superuser, without dbname

    def url(self) -> str:
        db = settings.DATABASES["default"]
        return database_url({"USER": self.role, "PASSWORD": self.password, "HOST": db["HOST"],
                             "PORT": db.get("PORT"), "NAME": self.database})

    def sql(self, query, params=(), dbname: str | None = None) -> list[tuple]:
        """As the superuser, autocommit, in `dbname` (the throwaway database by default)."""
        with psycopg.connect(**self.admin, dbname=dbname or self.database, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


def _admin_arguments() -> dict:
    """The session server's superuser connection (after pytest-django set it up: a socket folder or a host)."""
    db = settings.DATABASES["default"]
    arguments = {"host": db["HOST"], "port": db.get("PORT"), "user": db["USER"], "password": db["PASSWORD"],
                 "connect_timeout": 5}
    return {key: value for key, value in arguments.items() if value not in (None, "")}


@pytest.fixture
def throwaway():
    suffix = secrets.token_hex(4)
    place = Throwaway(role=f"vectorext_role_{suffix}", password=secrets.token_urlsafe(16),
                      database=f"vectorext_db_{suffix}", admin=_admin_arguments())
    role, database = sql.Identifier(place.role), sql.Identifier(place.database)
    try:
        place.sql(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            role, sql.Literal(place.password)), dbname="postgres")
        # Owned by the superuser, not the role: an owner could create a trusted extension.
        place.sql(sql.SQL("CREATE DATABASE {}").format(database), dbname="postgres")
        place.sql(sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(database), dbname="postgres")
        # What the app's role needs on a managed database: tables in public (PostgreSQL 15+
        # grants PUBLIC no CREATE there).
        place.sql(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
        yield place
    finally:
        with contextlib.suppress(psycopg.Error):
            place.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND pid <> pg_backend_pid()", [place.database], dbname="postgres")
        place.sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database), dbname="postgres")
        place.sql(sql.SQL("DROP ROLE IF EXISTS {}").format(role), dbname="postgres")


def _migrate_as(place: Throwaway, tmp_path: Path, broker_url: str) -> tuple[subprocess.CompletedProcess, float]:
    """`manage.py migrate` (all apps) as the role, and how long it took."""
    var_dir = tmp_path / "var"
    env_file = tmp_path / "empty.env"  # no .env of the checkout leaks in
    env_file.touch()
    env = {
        **os.environ,
        "DATABASE_URL": place.url(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "FACEREC_VAR_DIR": str(var_dir),
        "FACEREC_ENV_FILE": str(env_file),
    }
    for name in ("DJANGO_SETTINGS_MODULE", "TEST_DATABASE_NAME"):
        env.pop(name, None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=MIGRATE_TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert not (var_dir / "pgdata").exists() and not (var_dir / "valkey").exists(), "migrate started a server"
    return done, elapsed


def test_migrate_as_a_role_that_may_not_create_pgvector_says_what_to_run_then_succeeds(
        throwaway, tmp_path, test_broker_url):
    # The set-up is what the test claims: no superuser, no CREATE on the database, not its owner.
    [(superuser, may_create, owner)] = throwaway.sql(
        "SELECT r.rolsuper, has_database_privilege(r.rolname, d.datname, 'CREATE'), d.datdba = r.oid "
        "FROM pg_roles r, pg_database d WHERE r.rolname = %s AND d.datname = %s",
        [throwaway.role, throwaway.database])
    assert (superuser, may_create, owner) == (False, False, False)

    refused, refused_s = _migrate_as(throwaway, tmp_path, test_broker_url)

    assert refused.returncode != 0, refused.stdout[-2000:]
    assert "Traceback" not in refused.stderr, refused.stderr[-4000:]
    message = [line for line in refused.stderr.splitlines() if line.startswith("CommandError: ")]
    assert len(message) == 1, refused.stderr[-4000:]
    [line] = message
    assert f'"{throwaway.role}"' in line
    assert f'"{throwaway.database}"' in line
    assert '"CREATE EXTENSION vector;"' in line
    assert "superuser" in line and "run migrate again" in line
    # Nothing of 0001 stuck: no extension, and 0001 is not recorded (later apps may be).
    assert throwaway.sql("SELECT 1 FROM pg_extension WHERE extname = 'vector'") == []
    assert throwaway.sql("SELECT 1 FROM django_migrations WHERE app = 'recognition'") == []

    # What the message asks an administrator to do, then the same migrate as the role.
    throwaway.sql("CREATE EXTENSION vector;")
    applied, applied_s = _migrate_as(throwaway, tmp_path, test_broker_url)

    assert applied.returncode == 0, f"{applied.stdout[-2000:]}\n{applied.stderr[-4000:]}"
    assert "Traceback" not in applied.stderr
    recorded = {name for (name,) in throwaway.sql("SELECT name FROM django_migrations WHERE app = 'recognition'")}
    assert {"0001_pgvector_extension", "0002_initial"} <= recorded
    # The role's HNSW index on a vector column exists: the extension serves the role's tables.
    assert throwaway.sql("SELECT 1 FROM pg_indexes WHERE indexname = 'faceembedding_vector_hnsw'") == [(1,)]
    print(f"migrate as the role: refused in {refused_s:.1f} s, whole migrate in {applied_s:.1f} s")


# --- the version check, on the test database's real pgvector ------------------------------------


def _installed_pgvector() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        return cursor.fetchone()[0]


def _run_forwards(operation: EnsureVectorExtension) -> None:
    with connection.schema_editor() as editor:
        operation.database_forwards("recognition", editor, None, None)


@pytest.mark.django_db
def test_an_installed_pgvector_at_the_minimum_or_later_passes():
    installed = _installed_pgvector()
    assert version_at_least(installed)
    _run_forwards(EnsureVectorExtension())  # no CommandError, nothing to create


@pytest.mark.django_db
def test_an_installed_pgvector_older_than_the_minimum_asks_for_alter_extension_update():
    class NeedsAFuturePgvector(EnsureVectorExtension):
        minimum = (99, 0, 0)  # newer than any installed or available pgvector

    with pytest.raises(CommandError) as refused:
        _run_forwards(NeedsAFuturePgvector())
    message = str(refused.value)
    installed = _installed_pgvector()
    assert f"pgvector {installed} is installed in database \"{connection.settings_dict['NAME']}\"" in message
    assert '"ALTER EXTENSION vector UPDATE;"' in message
    # The server's package is too old as well: installing a newer one comes first, for its major version.
    assert f"postgresql-{connection.pg_version // 10000}-pgvector" in message and "99.0.0" in message
    assert "\n" not in message


@pytest.mark.django_db
def test_a_server_without_the_extension_says_to_install_pgvector():
    class MissingExtension(EnsureVectorExtension):
        def __init__(self):
            super().__init__()
            self.name = "facerec_no_such_extension"  # in neither pg_extension nor pg_available_extensions

    with pytest.raises(CommandError) as refused:
        _run_forwards(MissingExtension())
    message = str(refused.value)
    major = connection.pg_version // 10000
    assert f"PostgreSQL {major} server has no pgvector" in message
    assert f"postgresql-{major}-pgvector" in message and "apt.postgresql.org" in message


@pytest.mark.parametrize(("version", "ok"), [
    ("0.8.0", True), ("0.8.1", True), ("0.8", True), ("0.10.0", True), ("1.0.0", True), ("0.9.0-beta1", True),
    ("0.7.4", False), ("0.5.1", False), ("0.7", False), ("", False), ("unknown", False),
])
def test_versions_compare_as_numbers_against_pgvector_0_8_0(version, ok):
    assert version_at_least(version) is ok


def test_parse_version():
    assert parse_version("0.8.5") == (0, 8, 5)
    assert parse_version("0.10") == (0, 10)
    assert parse_version("1.0.0rc1") == (1, 0, 0)
    assert parse_version("dev") == ()
