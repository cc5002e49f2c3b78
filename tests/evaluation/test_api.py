"""The reports API under /api/v1/reports/: staff only, create, detail, plots, apply a threshold, schema.

Real database; `db` fixture, so a created report's task is never sent. Finished
reports are rows filled in by tests.evaluation.test_pages.finished_report.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evaluation import services
from evaluation.models import EvaluationReport
from recognition.models import RecognitionThreshold
from recognition.selectors import default_threshold
from tests.api_helpers import api_client, assert_error
from tests.evaluation.test_pages import PNG_MAGIC, finished_report, serving_version
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

API = "/api/v1"


def endpoints(report_id: int) -> list[tuple[str, str, dict | None]]:
    return [("get", f"{API}/reports/", None), ("post", f"{API}/reports/", {"kind": "enrolled"}),
            ("get", f"{API}/reports/{report_id}/", None), ("get", f"{API}/reports/{report_id}/plots/roc", None),
            ("post", f"{API}/reports/{report_id}/apply-threshold", {"kind": "verify"})]


# --- who may call it -----------------------------------------------------------------------


def test_anonymous_calls_are_refused_with_401():
    report = finished_report()
    client = APIClient()
    for method, url, data in endpoints(report.pk):
        response = getattr(client, method)(url, data, format="json")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_non_staff_are_refused_with_403(operator):
    report = finished_report()
    user_client = api_client(operator)
    for method, url, data in endpoints(report.pk):
        assert_error(getattr(user_client, method)(url, data, format="json"), 403, "permission_denied")
    assert EvaluationReport.objects.count() == 1 and not RecognitionThreshold.objects.exists()


def test_staff_authenticate_with_a_token(admin):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(admin)}")
    assert client.get(f"{API}/reports/").status_code == 200


# --- list and create -----------------------------------------------------------------------


def test_the_list_is_paginated_newest_first(admin_api):
    old = EvaluationReport.objects.create(kind="enrolled")
    new = EvaluationReport.objects.create(kind="benchmark", status="running", progress=0.5)
    body = admin_api.get(f"{API}/reports/", {"page_size": 1}).json()
    assert body["count"] == 2 and body["next"] and len(body["results"]) == 1
    [first] = body["results"]
    assert first["id"] == new.pk and first["status"] == "running" and first["progress"] == 0.5
    assert "metrics" not in first  # the list stays light: metrics are in the detail
    assert admin_api.get(body["next"]).json()["results"][0]["id"] == old.pk


def test_a_report_is_created_pending_and_answers_202_with_its_job(admin_api, admin):
    response = admin_api.post(f"{API}/reports/", {
        "kind": "benchmark", "parameters": {"folder": "lfw", "pairs": "pairs.txt", "pairs_per_fold": 2}},
        format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    report = EvaluationReport.objects.get()
    assert body["id"] == report.pk and body["status"] == "pending" and body["progress"] == 0.0
    assert body["kind"] == "benchmark" and body["created_by"] == "analyst" and report.created_by == admin
    assert body["parameters"]["pairs_per_fold"] == 2 and body["parameters"]["seed"] == 0
    assert body["job"] == f"http://testserver/api/v1/jobs/{services.report_task_id(report.pk)}/"
    assert body["url"] == f"http://testserver/api/v1/reports/{report.pk}/"


@pytest.mark.parametrize(("payload", "field", "code"), [
    ({"kind": "everything"}, "kind", "invalid_parameters"),
    ({"kind": "benchmark", "parameters": {"folder": "no-such-folder"}}, "folder", "invalid_parameters"),
    ({"kind": "benchmark", "parameters": {"folder": "../../etc"}}, "folder", "invalid_parameters"),
    ({"kind": "open-set", "parameters": {"holdout_fraction": 2}}, "holdout_fraction", "invalid_parameters"),
    ({"kind": "enrolled", "parameters": {"colour": "blue"}}, "colour", "invalid_parameters"),
    ({"kind": "enrolled", "parameters": "folds=3"}, "parameters", "invalid"),
    ({}, "kind", "invalid"),
])
def test_invalid_reports_are_refused_with_400_naming_the_field(admin_api, payload, field, code):
    error = assert_error(admin_api.post(f"{API}/reports/", payload, format="json"), 400, code)
    assert list(error["fields"]) == [field]
    assert not EvaluationReport.objects.exists()


# --- detail and plots ----------------------------------------------------------------------


def test_the_detail_has_metrics_plot_urls_and_the_skipped_count(admin_api):
    report = finished_report()
    body = admin_api.get(f"{API}/reports/{report.pk}/").json()
    assert body["status"] == "done" and body["model_version"] == serving_version()
    assert body["metrics"]["verification"]["auc"] == 0.9875
    assert body["metrics"]["recommended"]["verify"]["threshold"] == 0.5
    assert body["plots"] == {"roc": f"http://testserver/api/v1/reports/{report.pk}/plots/roc"}
    assert body["skipped_count"] == 60 and len(body["skipped"]) == 60
    plot = admin_api.get(body["plots"]["roc"], HTTP_ACCEPT="image/png")
    assert plot.status_code == 200 and plot["Content-Type"] == "image/png"
    assert b"".join(plot.streaming_content).startswith(PNG_MAGIC)


def test_an_unknown_report_is_404(admin_api):
    assert_error(admin_api.get(f"{API}/reports/999999/"), 404, "not_found")
    assert_error(admin_api.get(f"{API}/reports/999999/plots/roc"), 404, "not_found")


def test_only_plots_the_report_lists_are_served(admin_api):
    report = finished_report()
    (services.report_dir(report.pk) / "det.png").write_bytes(PNG_MAGIC)  # on disk, not in report.plots
    for name in ("det", "nope", "roc.png", "..%2Froc", "%2E%2E%2Froc"):
        response = admin_api.get(f"{API}/reports/{report.pk}/plots/{name}", HTTP_ACCEPT="image/png")
        assert response.status_code == 404, name
    assert admin_api.get(f"{API}/reports/{report.pk}/plots/../roc").status_code == 404


# --- apply a recommended threshold ---------------------------------------------------------


def test_staff_apply_the_recommended_verify_threshold(admin_api, admin):
    report = finished_report(with_plot=False)
    response = admin_api.post(f"{API}/reports/{report.pk}/apply-threshold", {"kind": "verify"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"kind": "verify", "value": 0.5, "source": f"evaluation report #{report.pk}",
                               "previous_value": default_threshold("verify", model_version=serving_version()).value}
    row = RecognitionThreshold.objects.get()
    assert row.report_id == report.pk and row.set_by == admin and row.model_version == serving_version()
    # Applying again records the new row with the value it replaced.
    again = admin_api.post(f"{API}/reports/{report.pk}/apply-threshold/", {"kind": "verify"}, format="json")
    assert again.status_code == 200 and again.json()["previous_value"] == 0.5


@pytest.mark.parametrize(("kwargs", "kind", "code"), [
    ({}, "identify", "not_applicable"),
    ({"model_version": "some-other-model"}, "verify", "model_mismatch"),
    ({"identify": {}}, "identify", "no_recommendation"),
])
def test_a_threshold_that_cannot_be_applied_is_409(admin_api, kwargs, kind, code):
    report = finished_report(with_plot=False, **kwargs)
    if "identify" in kwargs:
        del report.metrics["recommended"]["identify"]
        report.save(update_fields=["metrics"])
    response = admin_api.post(f"{API}/reports/{report.pk}/apply-threshold", {"kind": kind}, format="json")
    assert_error(response, 409, code)
    assert not RecognitionThreshold.objects.exists()


def test_applying_from_an_unfinished_or_unknown_report_or_an_unknown_kind_is_refused(admin_api):
    running = EvaluationReport.objects.create(kind="enrolled", status="running")
    assert_error(admin_api.post(f"{API}/reports/{running.pk}/apply-threshold", {"kind": "verify"},
                                format="json"), 409, "invalid_transition")
    assert_error(admin_api.post(f"{API}/reports/999999/apply-threshold", {"kind": "verify"}, format="json"),
                 404, "not_found")
    report = finished_report(with_plot=False)
    error = assert_error(admin_api.post(f"{API}/reports/{report.pk}/apply-threshold", {"kind": "both"},
                                        format="json"), 400, "invalid")
    assert list(error["fields"]) == ["kind"]
    assert not RecognitionThreshold.objects.exists()


def test_the_schema_documents_the_reports_api(admin_api):
    paths = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert {"/api/v1/reports/", "/api/v1/reports/{report_id}/", "/api/v1/reports/{report_id}/plots/{name}",
            "/api/v1/reports/{report_id}/apply-threshold"} <= set(paths)
    assert "image/png" in paths["/api/v1/reports/{report_id}/plots/{name}"]["get"]["responses"]["200"]["content"]
