"""`make run` (facerec_site.run): a worker that dies is started again, with back-off; the site stays up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from facerec_site.run import Restarts
from tests.conftest import REPO_ROOT, _die_with_parent, database_url, with_redis_db
from tests.facerec_site.test_environment import bare_environment

# Its own broker database: this platform's worker must not take the test worker's tasks.
RUN_BROKER_DB = 9


def test_restarts_back_off_from_at_once_to_a_minute_and_start_over_after_a_quiet_spell(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    restarts = Restarts()
    delays = []
    for _ in range(8):
        delays.append(restarts.next_delay())
        restarts.due_at = None
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    restarts.due_at = 1.0
    assert restarts.next_delay() is None  # one start is already scheduled
    restarts.due_at = None
    clock[0] = restarts.started_at + 301  # the last start ran for five minutes
    assert restarts.next_delay() == 0.0


@pytest.fixture
def throwaway_database():
    """A database of its own on the session's server (make run migrates and creates an administrator)."""
    admin = dict(settings.DATABASES["default"], NAME="postgres")
    name = f"test_run_{uuid.uuid4().hex[:8]}"
    url = database_url(admin)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield database_url(dict(admin, NAME=name))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(stat.parent.name), cmdline))
    return found


def _worker_pid(run_pid: int) -> int | None:
    return next((pid for pid, cmd in _children(run_pid) if "manage.py worker" in cmd), None)


def test_make_run_starts_a_camera_watcher_restarts_a_killed_worker_and_keeps_serving(throwaway_database, test_broker_url, tmp_path):
    port = _free_port()
    env_file = tmp_path / "run.env"
    env_file.write_text("\n".join([
        f"DATABASE_URL={throwaway_database}", f"CELERY_BROKER_URL={with_redis_db(test_broker_url, RUN_BROKER_DB)}",
        f"FACEREC_VAR_DIR={tmp_path / 'var'}", f"FACEREC_MODELS_DIR={settings.FACEREC_MODELS_DIR}",
        f"FACEREC_PORT={port}", "FACEREC_WEB_WORKERS=1", "FACEREC_ADMIN_PASSWORD=a-long-test-password-7"]) + "\n")
    output: list[str] = []
    run = subprocess.Popen([sys.executable, "-m", "facerec_site.run"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=bare_environment(FACEREC_ENV_FILE=str(env_file)),
                           preexec_fn=_die_with_parent)
    reader = threading.Thread(target=lambda: output.extend(iter(run.stdout.readline, "")), daemon=True)
    reader.start()

    def wait_for(predicate, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (value := predicate()):
                return value
            assert run.poll() is None, "".join(output)[-5000:]
            time.sleep(0.2)
        raise AssertionError(f"{what} not within {timeout_s} s:\n{''.join(output)[-5000:]}")

    try:
        wait_for(lambda: any("facerec is running at" in line for line in output), 240, "the platform")
        first = wait_for(lambda: _worker_pid(run.pid), 30, "the worker")
        wait_for(lambda: any("manage.py watch_cameras" in cmd for _, cmd in _children(run.pid)), 30,
                 "the camera watcher")

        os.killpg(first, signal.SIGKILL)

        second = wait_for(lambda: (pid := _worker_pid(run.pid)) and pid != first and pid, 60, "a new worker")
        assert any("worker exited (code -9); restarting it" in line for line in output)
        assert second != first
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=30) as page:
            assert page.status == 200  # the site never went down
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
    assert run.returncode == 0, "".join(output)[-5000:]
    assert "Stopped." in "".join(output)
