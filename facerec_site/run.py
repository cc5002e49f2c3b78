"""`make run`: start the whole platform in the foreground; Ctrl-C stops it all.

Starts (or attaches to) the embedded PostgreSQL and Valkey unless DATABASE_URL /
CELERY_BROKER_URL point elsewhere, migrates, creates the first administrator,
then runs a Celery worker, Celery beat, a camera watcher and gunicorn as child processes sharing
one database and broker. Services this run started are stopped on exit;
services it found running are left as they were.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from facerec_site import embedded, environment

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_with_services(var_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The children's environment: the configured URLs, or those of the embedded servers, which
    are started when nothing is configured; and which servers this run started (to stop them)."""
    was_running = {"DATABASE_URL": embedded.postgres_running(var_dir / "pgdata"),
                   "CELERY_BROKER_URL": embedded.valkey_running(var_dir / "valkey")}
    urls = embedded.ensure_started(var_dir)  # reads .env first: a URL there is a configured one
    started = [{"DATABASE_URL": "postgres", "CELERY_BROKER_URL": "valkey"}[name]
               for name in urls if not was_running[name]]
    return {**os.environ, **urls}, started


def _wait_for_http(url: str, procs: dict[str, subprocess.Popen], timeout_s: float, stop_requested) -> bool:
    """True once `url` answers 200; False when a stop was requested first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stop_requested():
            return False
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with code {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout_s}s")


def _stop(procs: dict[str, subprocess.Popen], timeout_s: float = 20.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# A worker, beat or camera watcher that dies is started again (a crash, the OOM killer); the web server's death
# stops the platform, as it is what the person at the terminal is using.
RESTARTED = ("worker", "beat", "watcher")


class Restarts:
    """Back-off for one process: 0 s, then 2, 4, 8 ... at most 60 s between starts; a process that
    ran for 5 minutes starts the count again."""

    def __init__(self) -> None:
        self.count = 0
        self.started_at = time.monotonic()
        self.due_at: float | None = None

    def next_delay(self) -> float | None:
        """The delay before the next start, or None when one is already scheduled."""
        if self.due_at is not None:
            return None
        if time.monotonic() - self.started_at > 300:
            self.count = 0
        delay = 0.0 if self.count == 0 else min(60.0, 2.0 ** self.count)
        self.count += 1
        return delay


def main() -> int:
    var_dir = embedded.default_var_dir()
    host = os.environ.get("FACEREC_HOST", "127.0.0.1")
    port = os.environ.get("FACEREC_PORT", "8000")
    python = sys.executable
    manage = [python, str(REPO_ROOT / "manage.py")]
    control_socket = var_dir.resolve() / "gunicorn.ctl"  # per checkout: two checkouts' gunicorns never share one
    commands = {
        # Named <queues>-<pid>@<host>, settings checked against the site's (facerec_site.worker_setup).
        "worker": [*manage, "worker", "--queues", "default,gpu",
                   "--concurrency", os.environ.get("FACEREC_WORKER_CONCURRENCY", "1")],
        # Reads the enabled cameras (its share: more watchers on other machines share them by lease).
        "watcher": [*manage, "watch_cameras"],
        # Schedules live in the database (django-celery-beat), editable in the admin.
        "beat": [python, "-m", "celery", "-A", "facerec_site", "beat", "--loglevel", "INFO"],
        "web": [python, "-m", "gunicorn", "facerec_site.wsgi", "--bind", f"{host}:{port}",
                "--config", "python:facerec_site.gunicorn_config",  # drops a gone process's live gauges
                # One process per ~2 cores: each one's inference already uses every core
                # (bench/api_bench.py: 2 processes on 2 cores halved identify throughput);
                # threads keep pages responsive while an identify call runs.
                "--workers", os.environ.get("FACEREC_WEB_WORKERS", str(max(1, (os.cpu_count() or 2) // 2))),
                "--threads", os.environ.get("FACEREC_WEB_THREADS", "4"), "--timeout", "120",
                "--access-logfile", "-",
                *(["--control-socket", str(control_socket)] if len(str(control_socket)) <= embedded.MAX_SOCKET_PATH
                  else ["--no-control-socket"])],
    }
    stopping = False

    def _request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    procs: dict[str, subprocess.Popen] = {}
    started: list[str] = []
    code = 0
    try:
        env, started = _env_with_services(var_dir)
        environment.clear_metrics_dir()  # the samples of a previous run's processes would be summed in
        for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"], ["ensure_admin"]):
            if subprocess.run([*manage, *step], env=env, cwd=REPO_ROOT).returncode != 0:
                print(f"manage.py {step[0]} failed; stopping", flush=True)
                return 1
        # Children get their own process group: the terminal's Ctrl-C reaches only
        # this supervisor, which stops them in order.
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, start_new_session=True)
        if _wait_for_http(f"http://{host}:{port}/", procs, 180, lambda: stopping):
            # ensure_admin's line about it has scrolled away under the workers' logs by now.
            password_file = var_dir / "initial_admin_password"
            first_login = (f" The first administrator's password is in {password_file}."
                           if password_file.exists() else "")
            print(f"\nfacerec is running at http://{host}:{port}/  (health: /healthz, admin: /admin/).{first_login}"
                  " Press Ctrl-C to stop.\n", flush=True)
        restarts = {name: Restarts() for name in RESTARTED}
        while not stopping:
            for name, proc in list(procs.items()):
                if proc.poll() is None:
                    continue
                if name not in RESTARTED:
                    print(f"{name} exited unexpectedly (code {proc.returncode}); stopping the platform", flush=True)
                    code, stopping = 1, True
                    break
                delay = restarts[name].next_delay()
                if delay is None:
                    continue  # waiting out the back-off
                print(f"{name} exited (code {proc.returncode}); restarting it"
                      + (f" after {delay:.0f} s" if delay else ""), flush=True)
                restarts[name].due_at = time.monotonic() + delay
            for name, restart in restarts.items():
                if restart.due_at is not None and time.monotonic() >= restart.due_at and not stopping:
                    restart.due_at = None
                    restart.started_at = time.monotonic()
                    procs[name] = subprocess.Popen(commands[name], env=env, cwd=REPO_ROOT, start_new_session=True)
            time.sleep(0.5)
    finally:
        print("Stopping...", flush=True)
        _stop(procs)
        if "postgres" in started:
            embedded.stop_postgres(var_dir / "pgdata")
        if "valkey" in started:
            embedded.stop_valkey(var_dir / "valkey")
        print("Stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
