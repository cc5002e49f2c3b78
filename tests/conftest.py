"""Session-wide fixtures: the real Celery worker against the test database and broker.

The embedded PostgreSQL and Valkey are started (or attached to) when the session
starts (`pytest_configure`: settings themselves start nothing). pytest-django creates the `test_facerec` database; the worker is a
separate `celery worker` process pointed at that database and at a broker
database number of its own, so a `make run` of the same checkout never picks up
test tasks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from django.conf import settings

from facerec_site import embedded
from tests.shared_data import SHARED_DATA
from tests.users import admin, admin_api, operator, operator_api  # noqa: F401 (fixtures for every test)

REPO_ROOT = Path(__file__).resolve().parent.parent
# Override (with TEST_DATABASE_NAME) to run two suites at once against one server.
TEST_BROKER_DB = int(os.environ.get("TEST_BROKER_DB", "15"))


def pytest_configure(config) -> None:
    # Before any fixture touches the database or the broker (unless they are external).
    embedded.ensure_started()


def database_url(db: dict) -> str:
    """A DATABASE_URL for Django's database settings dict (socket or TCP host)."""
    user, password = quote(db["USER"] or ""), quote(db["PASSWORD"] or "")
    host, name = db["HOST"] or "", db["NAME"]
    if host.startswith("/"):
        return f"postgresql://{user}:{password}@/{name}?host={quote(host)}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{user}:{password}@{host}{port}/{name}"


def with_redis_db(url: str, db: int) -> str:
    """The same Redis-protocol server, another logical database."""
    parts = urlsplit(url)
    if "socket" in parts.scheme:
        query = dict(parse_qsl(parts.query))
        query["virtual_host"] = str(db)
        # urlunsplit would drop the empty netloc's "//" that kombu needs.
        return f"{parts.scheme}://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


# Lockout and throttle counters of tests live under this prefix in the test broker's database.
TEST_CACHE_PREFIX = f"facerec-test-{TEST_BROKER_DB}"
# API rates no test reaches; the throttling tests lower them with the `settings` fixture.
UNTHROTTLED_API_RATES = {"FACEREC_API_RATE": "1000000/min", "FACEREC_API_ANON_RATE": "1000000/min",
                         "FACEREC_API_RECOGNITION_RATE": "1000000/min"}


def _cache_location_on_db(location: str, db: int) -> str:
    """A redis-py URL (`unix:///x.sock?db=2`, `redis://host:6379/2`) moved to another database."""
    parts = urlsplit(location)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?{urlencode({**dict(parse_qsl(parts.query)), 'db': str(db)})}"
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session", autouse=True)
def isolated_cache():
    """The cache (login lockout, API throttles) moves off a `make run`'s database to the test
    broker's, and the API rates out of the suite's way."""
    from django.test import override_settings

    default = dict(settings.CACHES["default"])
    if default["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        default.update(LOCATION=_cache_location_on_db(default["LOCATION"], TEST_BROKER_DB),
                       KEY_PREFIX=TEST_CACHE_PREFIX)
    override = override_settings(CACHES={"default": default}, **UNTHROTTLED_API_RATES)
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _fresh_template_counts():
    """Identify's per-process count of templates (kept 30 s) starts afresh in each test."""
    from recognition import selectors

    selectors.forget_template_counts()


@pytest.fixture(autouse=True)
def _empty_cache(isolated_cache):
    """Every test starts with no failed logins or API calls counted. Only the cache's keys go:
    the same database holds the test broker's queues."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{TEST_CACHE_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(scope="session", autouse=True)
def isolated_media(tmp_path_factory) -> Path:
    """Photos written by tests (and by the test worker) go to a temporary MEDIA_ROOT."""
    media = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = media
    settings.FACEREC_CLASSIFIERS_DIR = media / "classifiers"
    # As the worker: a retrain runs when asked (tests of the debounce set a quiet period).
    settings.FACEREC_RETRAIN_DELAY_S = 0
    # Benchmark reports read ../shared/data (wherever FACEREC_SHARED_DATA puts it).
    settings.FACEREC_DATASET_ROOTS = [str(SHARED_DATA)]
    return media


@pytest.fixture(scope="session")
def test_broker_url() -> str:
    return with_redis_db(settings.CELERY_BROKER_URL, TEST_BROKER_DB)


@pytest.fixture(scope="session", autouse=True)
def celery_app_for_tests(test_broker_url):
    """The site's Celery app on the test broker, from the first test on: a page that pings workers
    (/healthz) or reads a job's state must not open the app's connection pool on the
    development broker first (the pool keeps the URL it was made with; the worker's pings
    would then never be heard)."""
    from facerec_site.celery import app

    # Celery prefers CELERY_BROKER_URL in the environment (where a .env puts it) to its configuration;
    # settings have read it already, and child processes are given their own.
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    app.conf.update(broker_url=test_broker_url, result_backend=test_broker_url)
    with app.connection_for_write() as conn:  # leftovers of an interrupted run must not leak in
        conn.default_channel.client.flushdb()
    return app


def _die_with_parent() -> None:
    """In the worker child: get SIGTERM when pytest dies, even by SIGKILL or a timeout, so no
    orphaned worker keeps consuming the test broker's queues (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _wait_for_worker(app, proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError(f"celery worker not ready after {timeout_s}s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory) -> Path:
    """Mail the worker sends lands here, one file per message batch (Django's file backend)."""
    return tmp_path_factory.mktemp("mail")


def sent_mail(mail_dir: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(mail_dir.glob("*.log")))


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, celery_app_for_tests, test_broker_url, tmp_path_factory,
                  isolated_media, mail_dir):
    """A real `celery worker` process (queues default and gpu) on the test database."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": test_broker_url,
        "CELERY_RESULT_BACKEND": test_broker_url,
        "MEDIA_ROOT": str(isolated_media),
        "FACEREC_CLASSIFIERS_DIR": str(isolated_media / "classifiers"),
        "FACEREC_RETRAIN_DELAY_S": "0",
        "FACEREC_DATASET_ROOTS": str(SHARED_DATA),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PYTHONUNBUFFERED": "1",
        # The webhook tests' receivers listen on loopback (tests/webhooks/receiver.py).
        "FACEREC_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    cmd = [
        sys.executable, "-m", "celery", "-A", "facerec_site", "worker",
        "-Q", f"default,{settings.GPU_QUEUE}", "--concurrency", "1", "--loglevel", "INFO",
        "--hostname", f"test-{os.getpid()}@%h", "--without-mingle", "--without-gossip",
    ]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    try:
        _wait_for_worker(celery_app_for_tests, proc, log_path, timeout_s=90)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # Pool children too, so no connection holds the test database when it is dropped.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# Read before pytest-django points the connection at the test database.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


@pytest.fixture(scope="session", autouse=True)
def _audit_log_flushable(django_db_setup, django_db_blocker):
    """The flush after each transactional test TRUNCATEs every table, which the audit log's
    trigger refuses (identities 0005): the throwaway test database, and only it, turns it off.
    Tests of the trigger turn it on inside their own transaction."""
    from django.db import connection

    if connection.settings_dict["NAME"] == _CONFIGURED_DATABASE:
        return  # no test database in this session: the real one keeps its trigger
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'identities_auditlog_no_truncate'")
        if cursor.fetchone():
            cursor.execute("ALTER TABLE identities_auditlog DISABLE TRIGGER identities_auditlog_no_truncate")


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions other processes or threads left on it
    (the live server's thread, worker pool children)."""
    from django.db import connection

    # After django_db_setup the connection names the test database (test_<name>, or
    # TEST_DATABASE_NAME); anything else is a real database whose sessions (a `make run`)
    # must be left alone. (Asking creation._get_test_db_name() now would prefix it twice.)
    test_database = connection.settings_dict["NAME"]
    named = (connection.settings_dict.get("TEST") or {}).get("NAME")
    if not (test_database == named or test_database.startswith("test_")):
        test_database = None
    yield
    if test_database is None:
        return
    with django_db_blocker.unblock(), contextlib.suppress(Exception), connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        if cursor.fetchone()[0] != test_database:
            return
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = %s AND pid <> pg_backend_pid()", [test_database])


def _worker_idle(app) -> bool:
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        if any(client.llen(queue) for queue in ("default", settings.GPU_QUEUE)):
            return False
    inspect = app.control.inspect(timeout=0.5)
    for reply in (inspect.active(), inspect.reserved(), inspect.scheduled()):
        if any((reply or {}).values()):
            return False
    return True


@pytest.fixture(autouse=True)
def _drain_worker_before_flush(request):
    """A test's follow-up tasks (retrains, erasures) finish before its tables are flushed."""
    if "celery_worker" not in request.fixturenames:
        yield
        return
    # Requested here so that it is torn down (the flush) after this fixture's wait.
    request.getfixturevalue("_django_db_helper")
    yield
    app = request.getfixturevalue("celery_app_for_tests")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _worker_idle(app):
        time.sleep(0.2)
