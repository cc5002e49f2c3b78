"""/healthz: 200 or 503 per check; the detail (versions, hosts, errors) only for local callers and admins."""

import socket

import pytest
from django.conf import settings

from facerec_site import health
from tests.users import make_user


@pytest.mark.worker
@pytest.mark.django_db
def test_healthz_reports_database_broker_worker_and_models_up(client, celery_worker):
    health.forget_workers()  # a ping remembered from before the worker started
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["database"]["pgvector"].startswith("0.8")
    assert checks["broker"]["ok"]
    assert checks["worker"]["count"] >= 1
    assert checks["models"]["ok"]
    assert checks["models"]["backend"] in {"onnx", "torch"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_unreachable(client, celery_app_for_tests, tmp_path):
    good_url = celery_app_for_tests.conf.broker_url
    celery_app_for_tests.conf.broker_url = f"redis+socket://{tmp_path}/nobody-listens.sock"
    try:
        response = client.get("/healthz")
    finally:
        celery_app_for_tests.conf.broker_url = good_url

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_home_page_is_served(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Face recognition platform" in response.content


REMOTE = "203.0.113.5"


def assert_only_up_or_down(response) -> None:
    body = response.json()
    assert set(body) == {"ok", "checks"}
    assert set(body["checks"]) == {"database", "broker", "worker", "queues", "models", "cameras"}
    assert all(check == {"ok": check["ok"]} and isinstance(check["ok"], bool) for check in body["checks"].values())
    assert response.status_code == (200 if body["ok"] else 503)
    text = response.content.decode()
    assert "PostgreSQL" not in text and "pgvector" not in text and "sha256" not in text
    assert str(settings.FACEREC_MODELS_DIR) not in text and socket.gethostname() not in text


@pytest.mark.django_db
def test_a_remote_caller_learns_only_whether_each_check_is_up(client):
    assert_only_up_or_down(client.get("/healthz", REMOTE_ADDR=REMOTE))


@pytest.mark.django_db
def test_a_caller_through_a_proxy_on_this_machine_is_remote(client):
    assert_only_up_or_down(client.get("/healthz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=REMOTE))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "reviewer", None])
def test_a_signed_in_user_without_the_admin_role_learns_only_whether_each_check_is_up(client, role):
    client.force_login(make_user("someone", role))
    assert_only_up_or_down(client.get("/healthz", REMOTE_ADDR=REMOTE))


@pytest.mark.django_db
@pytest.mark.parametrize("remote_addr", ["127.0.0.1", "::1"])
def test_a_local_caller_sees_the_detail(client, remote_addr):
    database = client.get("/healthz", REMOTE_ADDR=remote_addr).json()["checks"]["database"]
    assert database["pgvector"].startswith("0.8") and "PostgreSQL" in database["server"]


@pytest.mark.django_db
def test_a_signed_in_admin_sees_the_detail_from_anywhere(client):
    client.force_login(make_user("boss", "admin"))
    body = client.get("/healthz", REMOTE_ADDR=REMOTE).json()
    assert body["checks"]["database"]["pgvector"].startswith("0.8") and "elapsed_ms" in body


def test_the_worker_ping_is_remembered_so_healthz_answers_at_once_yet_sees_a_dead_worker_soon(monkeypatch):
    """A ping waits its whole time-out; /healthz reuses the last one, refreshed in the background."""
    import time

    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    alive = [True]
    pings = []

    def ping():
        pings.append(clock[0])
        return {"ok": alive[0], "count": int(alive[0]), "workers": ["celery@w1"] if alive[0] else []}

    monkeypatch.setattr(health, "check_workers", ping)
    health.forget_workers()

    assert health.cached_worker_check()["ok"] and len(pings) == 1  # nothing remembered: asked
    clock[0] += 5
    assert health.cached_worker_check()["checked_s_ago"] == 5.0 and len(pings) == 1  # fresh: not asked
    alive[0] = False  # the worker dies
    clock[0] += 6  # past WORKER_FRESH_S: the old answer now, a refresh in the background
    assert health.cached_worker_check()["ok"] is True
    deadline = time.time() + 5
    while len(pings) < 2 and time.time() < deadline:
        time.sleep(0.01)
    while health._refreshing.is_set() and time.time() < deadline:
        time.sleep(0.01)
    assert len(pings) == 2 and not health._refreshing.is_set()
    assert health.cached_worker_check()["ok"] is False  # reported within seconds of the refresh
    clock[0] += health.WORKER_STALE_S + 1  # and with no refresh getting through, asked again at once
    health.cached_worker_check()
    assert len(pings) == 3
    health.forget_workers()


@pytest.fixture
def gpu_queue_unserved(celery_worker, celery_app_for_tests):
    """The session's worker stops consuming `gpu` (as if only a `default` worker ran), then resumes."""
    import os

    name = f"test-{os.getpid()}@{socket.gethostname()}"
    celery_app_for_tests.control.cancel_consumer(settings.GPU_QUEUE, destination=[name], reply=True)
    health.forget_workers()
    yield celery_app_for_tests
    celery_app_for_tests.control.add_consumer(settings.GPU_QUEUE, destination=[name], reply=True)
    health.forget_workers()


@pytest.mark.worker
@pytest.mark.django_db
def test_a_queue_no_worker_consumes_turns_healthz_unhealthy_although_a_worker_answers(client, gpu_queue_unserved):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503, body
    assert body["checks"]["worker"]["ok"] is True
    queues = body["checks"]["queues"]
    assert queues["ok"] is False
    assert queues["gpu"]["consumers"] == [] and queues["gpu"]["error"] == "no worker consumes this queue"
    assert queues["default"]["ok"] is True and len(queues["default"]["consumers"]) == 1


@pytest.mark.worker
@pytest.mark.django_db
def test_a_queue_whose_oldest_message_waited_too_long_is_unhealthy(gpu_queue_unserved, settings):
    import time

    gpu_queue_unserved.send_task("facerec_site.ping", queue=settings.GPU_QUEUE)
    time.sleep(0.3)
    settings.FACEREC_QUEUE_MAX_WAIT_S = 0
    served = {"consumers": {"default": ["w@h"], settings.GPU_QUEUE: ["w@h"]}}

    queues = health.check_queues(served)

    gpu = queues[settings.GPU_QUEUE]
    assert queues["ok"] is False and gpu["ok"] is False
    assert gpu["waiting"] == 1 and gpu["oldest_s"] >= 0.3
    assert gpu["error"] == "the oldest message has waited over 0 s"
    settings.FACEREC_QUEUE_MAX_WAIT_S = 600
    assert health.check_queues(served)[settings.GPU_QUEUE]["ok"] is True
