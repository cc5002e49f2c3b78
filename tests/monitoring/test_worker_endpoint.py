"""A worker on another machine (its own PROMETHEUS_MULTIPROC_DIR) serves its task metrics on
FACEREC_WORKER_METRICS_PORT, under /metrics' access rule: a real worker process, a real task."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO_ROOT, _die_with_parent, database_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUE = "worker-metrics-test"  # its own queue: the suite's worker does not take this test's tasks
TOKEN = "worker-metrics-token-for-the-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def remote_worker(tmp_path, test_broker_url, isolated_media, celery_app_for_tests):
    port, log = free_port(), tmp_path / "worker.log"
    metrics_dir = tmp_path / "prometheus"  # not the site's: as on another machine
    metrics_dir.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]),
           "CELERY_BROKER_URL": test_broker_url, "CELERY_RESULT_BACKEND": test_broker_url,
           "MEDIA_ROOT": str(isolated_media), "FACEREC_CLASSIFIERS_DIR": str(isolated_media / "classifiers"),
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "FACEREC_WORKER_METRICS_PORT": str(port),
           "FACEREC_WORKER_METRICS_HOST": "127.0.0.1", "FACEREC_METRICS_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    hostname = f"metrics-{os.getpid()}@%h"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "facerec_site", "worker", "-Q", QUEUE,
                                 "--concurrency", "1", "--hostname", hostname, "--without-mingle",
                                 "--without-gossip"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            with contextlib.suppress(requests.ConnectionError):
                requests.get(url, timeout=5)
                break
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def task_count(url: str) -> float:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "facerec_celery_tasks_total" and sample.labels == {
                    "task": "facerec_site.ping", "outcome": "success"}:
                return sample.value
    return 0.0


def test_its_tasks_are_counted_on_its_own_port_under_the_metrics_access_rule(remote_worker, celery_app_for_tests):
    before = task_count(remote_worker)  # from this machine: no token needed
    celery_app_for_tests.send_task("facerec_site.ping", args=["worker-metrics"], queue=QUEUE).get(timeout=60)
    deadline = time.monotonic() + 10  # postrun runs just after the result is stored
    while task_count(remote_worker) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert task_count(remote_worker) == before + 1
    body = requests.get(remote_worker, timeout=10).text
    assert "facerec_celery_task_seconds_count" in body
    assert "facerec_identities" not in body  # the platform's gauges are the site's, not counted twice

    through_proxy = requests.get(remote_worker, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10)
    assert through_proxy.status_code == 401 and "Bearer" in through_proxy.text
    wrong = requests.get(remote_worker, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and wrong.text == "the bearer token is wrong\n"
    right = requests.get(remote_worker, headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "203.0.113.7"},
                         timeout=10)
    assert right.status_code == 200 and "facerec_celery_tasks_total" in right.text
    assert requests.get(remote_worker.replace("/metrics", "/other"), timeout=10).status_code == 404
    assert requests.post(remote_worker, timeout=10).status_code == 405
