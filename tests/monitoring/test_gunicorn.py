"""Multiprocess mode under a real gunicorn with two web processes: /metrics counts the requests
every process answered, whichever of them answers the scrape."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO_ROOT, database_url

MAX_REQUESTS = 400


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _writers(metrics_dir) -> set[str]:
    """The pids that wrote counters: each process keeps its samples in files named after it."""
    return {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}


def _login_page_count(text: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "facerec_http_requests_total" and sample.labels.get("route") == "login"
               and sample.labels.get("status") == "200")


@pytest.mark.django_db  # so that connection.settings_dict names the test database
def test_requests_answered_by_two_gunicorn_processes_are_summed_in_metrics(
        test_broker_url, isolated_media, tmp_path):
    port, metrics_dir = _free_port(), tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "CELERY_BROKER_URL": test_broker_url, "CELERY_RESULT_BACKEND": test_broker_url,
           "MEDIA_ROOT": str(isolated_media), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "facerec_site.wsgi",
                                "--config", "python:facerec_site.gunicorn_config", "--bind", f"127.0.0.1:{port}",
                                "--workers", "2", "--timeout", "60"],
                               cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert web.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(OSError):
                _get(f"{base}/login/")
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        before = _login_page_count(_get(f"{base}/metrics").decode())
        sent = 0
        with ThreadPoolExecutor(max_workers=4) as pool:  # at once, so both processes take requests
            while sent < MAX_REQUESTS and len(_writers(metrics_dir)) < 2:
                list(pool.map(_get, [f"{base}/login/"] * 8))
                sent += 8

        assert len(_writers(metrics_dir)) >= 2, "one gunicorn process answered every request"
        assert _login_page_count(_get(f"{base}/metrics").decode()) - before == sent
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
