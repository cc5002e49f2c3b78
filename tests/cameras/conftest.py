"""Shared pieces of the camera tests: people enrolled with approved photos (the video tests' fixtures),
an in-process MJPEG server on 127.0.0.1 (tests/cameras/streams.py), cameras, and real watcher processes
(`manage.py watch_cameras`) on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from cameras.models import Camera
from cameras.services.cameras import create_camera
from tests.cameras.streams import StreamServer
from tests.conftest import REPO_ROOT, _die_with_parent, database_url
from tests.videos.conftest import enrolled, enrollment_faces  # noqa: F401 (fixtures)

STREAM_SECRET = "s3cret-Pa55word"  # the password in the cameras' URLs: never in an answer or a log line
LEASE_S = 3.0  # the watchers' lease in these tests (short, so a takeover is quick)


@pytest.fixture
def stream_server():
    server = StreamServer()
    yield server
    server.stop()


def camera_for(server: StreamServer, path: str, *, name: str | None = None, **values) -> Camera:
    """A camera reading `path` of the server, with credentials in its URL."""
    return create_camera(url=server.url(path, userinfo=f"viewer:{STREAM_SECRET}") + "?token=tok-" + STREAM_SECRET,
                         name=name or path.strip("/"), **values)


@dataclass
class WatcherProcess:
    proc: subprocess.Popen
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 20) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def start_watcher(tmp_path, isolated_media, test_broker_url):
    """start_watcher(name, max_cameras=None, cpus=None, **env): a real `manage.py watch_cameras` process on the
    test database (on the first `cpus` cores when given); all are stopped after the test."""
    started: list[WatcherProcess] = []

    def start(name: str, *, max_cameras: int | None = None, cpus: int | None = None, **extra_env) -> WatcherProcess:
        log_path = tmp_path / f"{name}.log"
        env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]),
               "CELERY_BROKER_URL": test_broker_url, "CELERY_RESULT_BACKEND": test_broker_url,
               "MEDIA_ROOT": str(isolated_media), "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "DEBUG",
               "FACEREC_CAMERA_LEASE_S": str(LEASE_S), "FACEREC_CAMERA_MAX_BACKOFF_S": "2",
               "FACEREC_CAMERA_READ_TIMEOUT_S": "3", "FACEREC_SIGHTING_COOLDOWN_S": "60",
               **{k: str(v) for k, v in extra_env.items()}}
        cmd = [sys.executable, "manage.py", "watch_cameras", "--name", name,
               *(["--max-cameras", str(max_cameras)] if max_cameras else [])]
        allowed = sorted(os.sched_getaffinity(0))[:cpus] if cpus else None

        def setup_child() -> None:
            _die_with_parent()
            if allowed:  # the bench's "on 2 cores"
                os.sched_setaffinity(0, allowed)

        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=setup_child)
        watcher = WatcherProcess(proc, log_path, name)
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.stop()


def wait_until(condition, *, timeout_s: float, what: str, every_s: float = 0.2, watchers=()):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    logs = "\n".join(f"--- {w.name} ---\n{w.log()[-3000:]}" for w in watchers)
    raise AssertionError(f"not within {timeout_s}s: {what}\n{logs}")
