"""GET /metrics: who may read it, and that its figures move with what the platform does (a real
identify through the API, a real task in the real worker) and equal the home page's selectors."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from prometheus_client.parser import text_string_to_metric_families

from facerec_site.health import forget_workers
from facerec_site.tasks import ping
from monitoring import selectors
from tests.api_helpers import api_client
from tests.monitoring.helpers import identify_a_stranger
from tests.shared_data import lfw_bytes
from webhooks import services as webhooks

pytestmark = pytest.mark.django_db

REMOTE = "203.0.113.7"  # TEST-NET-3: not this machine


def samples(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


class TestAccess:
    def test_a_caller_on_this_machine_reads_the_metrics(self, client):
        assert samples(client)  # the test client connects from 127.0.0.1

    def test_a_remote_caller_without_a_token_is_refused_with_a_reason(self, client):
        response = client.get("/metrics", REMOTE_ADDR=REMOTE)
        assert response.status_code == 403
        assert b"only callers on this machine" in response.content

    def test_a_forged_forwarded_for_does_not_make_a_remote_caller_local(self, client):
        response = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_X_FORWARDED_FOR="127.0.0.1")
        assert response.status_code == 403

    def test_a_request_through_a_proxy_on_this_machine_is_not_local(self, client):
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=REMOTE)
        assert response.status_code == 403

    def test_the_right_bearer_token_opens_it_to_a_remote_caller(self, client, settings):
        settings.FACEREC_METRICS_TOKEN = "s3cret-metrics-token"
        assert samples(client, REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")

    def test_a_wrong_token_is_refused_even_from_this_machine(self, client, settings):
        settings.FACEREC_METRICS_TOKEN = "s3cret-metrics-token"
        response = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer s3cret-metrics-tokeX")
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
        assert b"wrong" in response.content
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401

    def test_without_a_configured_token_a_bearer_opens_nothing(self, client, settings):
        settings.FACEREC_METRICS_TOKEN = ""
        response = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer ")
        assert response.status_code == 401


def test_an_identify_through_the_api_moves_the_answer_stage_and_request_metrics(client, operator):
    before = samples(client)
    faces = identify_a_stranger(operator)
    assert faces and all(face["label"] == "unknown" for face in faces)  # nobody is enrolled

    after = samples(client)
    assert (value(after, "facerec_recognition_answers_total", kind="identify", outcome="unknown")
            - value(before, "facerec_recognition_answers_total", kind="identify", outcome="unknown")) == len(faces)
    for kind, stage in (("probe", "decode"), ("identify", "detect"), ("identify", "embed")):
        assert (value(after, "facerec_recognition_stage_seconds_count", kind=kind, stage=stage)
                - value(before, "facerec_recognition_stage_seconds_count", kind=kind, stage=stage)) == 1
    route = {"route": "recognition_api:identify", "method": "POST"}  # the pattern, not the path
    assert (value(after, "facerec_http_requests_total", status="200", **route)
            - value(before, "facerec_http_requests_total", status="200", **route)) == 1
    assert value(after, "facerec_http_request_seconds_count", **route) > value(
        before, "facerec_http_request_seconds_count", **route)
    # The audit log's 24 h window (the home page's figure) counts it too.
    window = {"window": "24h", "kind": "identify", "outcome": "unknown"}
    assert (value(after, "facerec_recognition_answers_window", **window)
            - value(before, "facerec_recognition_answers_window", **window)) == len(faces)


def test_the_gauges_equal_the_selectors(client):
    found = samples(client)
    figures = selectors.platform_figures()
    assert value(found, "facerec_identities") == figures.people
    assert value(found, "facerec_active_templates") == figures.active_templates
    for status, count in figures.photos.items():
        assert value(found, "facerec_photos", status=status) == count
    for threshold in figures.thresholds:
        assert value(found, "facerec_threshold", kind=threshold.kind, stored=str(int(threshold.stored))) == \
            pytest.approx(threshold.value)
    assert value(found, "facerec_build_info", model_version=figures.model_version,
                 liveness_policy=selectors.build_info()["liveness_policy"]) == 1


@pytest.mark.worker
def test_a_task_run_by_the_real_worker_is_counted_in_the_webs_metrics(client, celery_worker):
    forget_workers()  # an earlier test's scrape may remember the time before the worker started
    labels = {"task": "facerec_site.ping", "outcome": "success"}
    before = value(samples(client), "facerec_celery_tasks_total", **labels)
    ping.delay("metrics").get(timeout=60)

    deadline = time.monotonic() + 10  # postrun runs just after the result is stored
    while time.monotonic() < deadline:
        found = samples(client)
        if value(found, "facerec_celery_tasks_total", **labels) == before + 1:
            break
        time.sleep(0.2)
    assert value(found, "facerec_celery_tasks_total", **labels) == before + 1
    assert value(found, "facerec_celery_task_seconds_count", task="facerec_site.ping") >= 1
    assert value(found, "facerec_queue_length", queue="default") == 0
    assert value(found, "facerec_component_up", component="worker") == 1


def test_a_verify_of_two_photos_counts_its_outcome_and_times_both_faces(client, operator):
    before = samples(client)
    photos = {name: SimpleUploadedFile(f"{name}.jpg", lfw_bytes(person, 1), content_type="image/jpeg")
              for name, person in (("image_a", "George_W_Bush"), ("image_b", "Colin_Powell"))}
    response = api_client(operator).post("/api/v1/verify", photos, format="multipart")
    assert response.status_code == 200, response.content
    outcome = "match" if response.json()["match"] else "no_match"
    assert outcome == "no_match"  # two different people

    after = samples(client)
    assert (value(after, "facerec_recognition_answers_total", kind="verify", outcome=outcome)
            - value(before, "facerec_recognition_answers_total", kind="verify", outcome=outcome)) == 1
    for stage in ("detect", "embed"):
        assert (value(after, "facerec_recognition_stage_seconds_count", kind="verify", stage=stage)
                - value(before, "facerec_recognition_stage_seconds_count", kind="verify", stage=stage)) == 2
    window = {"window": "30d", "kind": "verify", "outcome": outcome}
    assert (value(after, "facerec_recognition_answers_window", **window)
            - value(before, "facerec_recognition_answers_window", **window)) == 1


def test_pending_webhook_deliveries_are_a_gauge_and_a_home_page_figure(client, admin, settings):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    webhooks.create_subscription(url="http://127.0.0.1:9/hook", event_types=["photo.approved"], actor=admin)
    webhooks.emit("photo.approved", {"photo_id": 1, "identity_id": 2}, identity_id=2)  # no worker: stays pending
    assert selectors.platform_figures().pending_webhook_deliveries == 1
    assert value(samples(client), "facerec_webhook_deliveries_pending") == 1
    client.force_login(admin)
    assert b'data-figure="pending_webhook_deliveries">1<' in client.get("/").content
