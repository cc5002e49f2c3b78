"""The report pages under /reports/: staff only, new report form, detail with metrics and plots, exports, apply.

Real database; these tests use the `db` fixture, so a created report's task is never
sent (on-commit callbacks do not run). Finished reports are rows whose metrics and plot
files the tests write themselves.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from audit.models import AuditLog
from evaluation import plots, services
from evaluation.models import EvaluationReport
from recognition.models import RecognitionThreshold
from recognition.selectors import default_threshold

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def serving_version() -> str:
    from recognition.runtime import get_embedder

    return get_embedder().model_info.version


def sample_metrics(*, verify: dict | None = None, identify: dict | None = None) -> dict:
    """A metrics document as the report task stores it, one of each section."""
    return {
        "data": {"source": "folder", "folder": "lfw", "pairs": 40, "skipped_images": 60},
        "verification": {
            "pairs": {"genuine": 20, "impostor": 20},
            "auc": 0.9875, "eer": 0.05, "eer_threshold": 0.3551,
            "tar_at_far": {"0.1": {"tar": 0.95, "threshold": 0.31, "far": 0.05, "resolvable": True},
                           "0.01": {"tar": 0.9, "threshold": 0.42, "far": 0.0, "resolvable": False}},
            "accuracy": {"mean": 0.925, "std": 0.0312, "folds": 10, "fold_accuracies": [0.9] * 10},
            "confidence_intervals": {"auc": {"low": 0.961, "high": 0.999, "level": 0.95, "resamples": 200},
                                     "eer": {"low": 0.01, "high": 0.1, "level": 0.95, "resamples": 200}},
            "recommended": {"target_far": 0.01, "threshold": 0.42, "far": 0.0, "tar": 0.9, "resolvable": False,
                            "eer_threshold": 0.3551},
            "roc": {"far": [0.0, 0.5, 1.0], "tar": [0.0, 0.9, 1.0]},
            "by_attribute": {"cohort": {
                "2024": {"identities": 5, "genuine_pairs": 12, "impostor_pairs": 40, "auc": 0.97, "eer": 0.08,
                         "tar_at_target_far": 0.7, "tar_resolvable": True, "far_at_threshold": 0.025,
                         "frr_at_threshold": 0.3},
                "2025": {"identities": 2, "genuine_pairs": 1, "impostor_pairs": 3,
                         "note": "fewer than 10 genuine or impostor pairs: figures left out"}}},
        },
        "identification": {
            "folds": 5, "identities": 4, "photos": 20, "min_photos": 3,
            "methods": {"nearest_neighbour": {"top1": 0.85, "top5": 1.0, "top1_fold_std": 0.05, "probes": 20,
                                              "cmc": [0.85, 1.0]},
                        "svm": {"top1": 0.8, "top5": 1.0, "top1_fold_std": 0.07, "probes": 20, "cmc": [0.8, 1.0]}},
            "excluded_identities": [{"identity": "Aaron_Peirsol", "photos": 2}],
        },
        "open_set": {
            "enrolled_identities": 3, "held_out_identities": ["Colin_Powell"], "gallery_photos": 9,
            "mated_probes": 6, "nonmated_probes": 5,
            "methods": {"combined": {"dir_at_fpir": {"0.1": {"dir": 0.66, "threshold": 0.5, "fpir": 0.0,
                                                             "resolvable": True}},
                                     "rank1_closed_set": 0.83}},
        },
        "recommended": {
            "verify": verify if verify is not None else {
                "threshold": 0.5, "target_far": 0.01, "far": 0.0, "tar": 0.9, "resolvable": False,
                "eer_threshold": 0.3551, "score": "cosine similarity", "applicable": True,
                "not_applicable_because": ""},
            "identify": identify if identify is not None else {
                "threshold": 0.6, "target_fpir": 0.1, "dir": 0.66, "fpir": 0.0, "resolvable": True,
                "score": "cosine similarity", "applicable": False,
                "not_applicable_because": "measured with flip TTA, which verify and identify do not use"},
        },
    }


def finished_report(*, model_version: str | None = None, with_plot: bool = True, skipped: int = 60,
                    **metrics_kwargs) -> EvaluationReport:
    """A DONE report row with sample metrics and, optionally, a real ROC plot in its folder."""
    report = EvaluationReport.objects.create(
        kind=EvaluationReport.Kind.BENCHMARK, parameters={"folder": "lfw", "pairs": "pairs.txt", "seed": 0},
        status=EvaluationReport.Status.DONE, progress=1.0, progress_message="done",
        model_version=serving_version() if model_version is None else model_version,
        metrics=sample_metrics(**metrics_kwargs),
        skipped={f"person_{n}/photo_{n:04d}.jpg": "no_face" for n in range(skipped)})
    if with_plot:
        path = plots.roc_plot([plots.Curve("", np.array([0.0, 0.1, 1.0]), np.array([0.0, 0.8, 1.0]))],
                              services.report_dir(report.pk) / "roc.png", title="ROC (verification)")
        report.plots = {"roc": path.name}
        report.save(update_fields=["plots"])
    return report


@pytest.fixture
def admin_browser(client, admin):
    """The pages' test client, signed in as the admin."""
    client.force_login(admin)
    return client


def page_urls(report_id: int) -> list[str]:
    return [reverse("evaluation:list"), reverse("evaluation:create"), reverse("evaluation:detail", args=[report_id]),
            reverse("evaluation:plot", args=[report_id, "roc"]),
            reverse("evaluation:export_json", args=[report_id]), reverse("evaluation:export_csv", args=[report_id])]


def field_errors(html: str, name: str) -> str:
    """The text of the form field block that holds input `name` (where its errors are shown)."""
    match = re.search(r'<div class="field[^"]*">(?:(?!<div class="field).)*?name="%s".*?</div>' % name, html, re.S)
    assert match, f"no field {name!r} in the page"
    return match.group(0)


# --- who may see the pages -----------------------------------------------------------------


def test_every_report_page_sends_an_anonymous_visitor_to_the_login_page(client):
    report = finished_report(with_plot=False)
    for url in page_urls(report.pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{reverse('login')}?next="), url
    response = client.post(reverse("evaluation:apply_threshold", args=[report.pk]), {"kind": "verify"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not RecognitionThreshold.objects.exists()


def test_report_pages_are_for_staff_only(client, operator):
    report = finished_report()
    client.force_login(operator)
    for url in page_urls(report.pk):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("evaluation:create"), {"kind": "enrolled"}).status_code == 403
    assert client.post(reverse("evaluation:apply_threshold", args=[report.pk]), {"kind": "verify"}).status_code == 403
    assert EvaluationReport.objects.count() == 1
    assert not RecognitionThreshold.objects.exists()


def test_the_reports_link_is_in_the_menu_of_staff_only(client, admin, operator):
    client.force_login(operator)
    assert reverse("evaluation:list") not in client.get(reverse("identities:list")).content.decode()
    client.force_login(admin)
    assert f'href="{reverse("evaluation:list")}"' in client.get(reverse("identities:list")).content.decode()


# --- list and new report -------------------------------------------------------------------


def test_the_list_shows_status_kind_progress_and_who_asked_and_pages(admin_browser, admin):
    running = EvaluationReport.objects.create(kind="open-set", status="running", progress=0.42, created_by=admin)
    weekly = EvaluationReport.objects.create(kind="enrolled", scheduled=True)
    html = admin_browser.get(reverse("evaluation:list")).content.decode()
    assert f'href="{reverse("evaluation:detail", args=[running.pk])}"' in html
    assert "Running" in html and "42%" in html and "open-set" in html and "analyst" in html
    assert f"#{weekly.pk}" in html and "weekly schedule" in html

    EvaluationReport.objects.bulk_create([EvaluationReport(kind="enrolled") for _ in range(25)])
    first = admin_browser.get(reverse("evaluation:list")).content.decode()
    assert "Page 1 of 2" in first and f"#{running.pk}<" not in first  # newest first: the oldest is on page 2
    assert f"#{running.pk}<" in admin_browser.get(reverse("evaluation:list") + "?page=2").content.decode()


def test_the_new_report_form_offers_the_dataset_folders(admin_browser):
    html = admin_browser.get(reverse("evaluation:create")).content.decode()
    assert '<option value="lfw">lfw</option>' in html
    for name in ("kind", "folder", "pairs", "pairs_per_fold", "tta", "subtract_mean", "folds", "min_photos",
                 "holdout", "holdout_fraction", "target_far", "target_fpir", "max_identities",
                 "max_photos_per_identity", "seed"):
        assert f'name="{name}"' in html, name


def test_a_new_report_is_stored_pending_with_the_filled_in_parameters_and_defaults(admin_browser, admin):
    response = admin_browser.post(reverse("evaluation:create"), {
        "kind": "benchmark", "folder": "lfw", "pairs": "pairs.txt", "pairs_per_fold": "2", "target_far": "",
        "seed": "", "holdout": ""})
    report = EvaluationReport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("evaluation:detail", args=[report.pk])
    assert report.status == EvaluationReport.Status.PENDING and report.created_by == admin
    assert report.parameters["folder"] == "lfw" and report.parameters["pairs"] == "pairs.txt"
    assert report.parameters["pairs_per_fold"] == 2
    assert report.parameters["seed"] == 0 and report.parameters["target_far"] == settings.FACEREC_TARGET_FAR
    assert report.parameters["tta"] is False and report.parameters["subtract_mean"] is False
    assert report.task_id == services.report_task_id(report.pk)
    assert AuditLog.objects.filter(action="evaluation.report_requested", target_id=str(report.pk)).exists()
    assert "is queued" in admin_browser.get(response["Location"]).content.decode()


def test_an_open_set_report_takes_a_comma_list_of_held_out_identities(admin_browser):
    admin_browser.post(reverse("evaluation:create"), {
        "kind": "open-set", "source": "folder", "folder": "lfw", "holdout": "Colin_Powell, Tony_Blair,,",
        "holdout_fraction": "0.5", "target_fpir": "0.05", "tta": "on"})
    parameters = EvaluationReport.objects.get().parameters
    assert parameters["holdout"] == ["Colin_Powell", "Tony_Blair"]
    assert parameters["holdout_fraction"] == 0.5 and parameters["target_fpir"] == 0.05
    assert parameters["source"] == "folder" and parameters["tta"] is True


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"kind": "nonsense"}, "kind", "Select a valid choice"),
    ({"kind": "benchmark", "folder": "../etc"}, "folder", "Select a valid choice"),
    ({"kind": "benchmark"}, "folder", "name a dataset folder"),
    ({"kind": "benchmark", "folder": "lfw", "pairs": "../pairs.txt"}, "pairs", "no pairs file"),
    ({"kind": "open-set", "holdout_fraction": "2"}, "holdout_fraction", "holdout_fraction must be between"),
    ({"kind": "enrolled", "folds": "1"}, "folds", "folds must be between 2 and 10"),
    ({"kind": "enrolled", "seed": "x"}, "seed", "Enter a whole number"),
])
def test_an_invalid_report_is_refused_with_the_error_beside_its_field(admin_browser, data, field, message):
    response = admin_browser.post(reverse("evaluation:create"), data)
    assert response.status_code == 200
    block = field_errors(response.content.decode(), field)
    assert "field-error" in block and message in block
    assert not EvaluationReport.objects.exists()


# --- detail -------------------------------------------------------------------------------


def test_a_pending_or_running_report_page_shows_progress_and_refreshes_itself(admin_browser):
    report = EvaluationReport.objects.create(kind="benchmark", status="running", progress=0.4,
                                             progress_message="embedding 16/40 images")
    html = admin_browser.get(reverse("evaluation:detail", args=[report.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in html
    assert re.search(r'<progress[^>]*max="100"[^>]*value="40"', html)
    assert "40%" in html and "embedding 16/40 images" in html
    assert "Apply as" not in html and "export.json" not in html


def test_a_failed_report_shows_its_error_and_stops_refreshing(admin_browser):
    report = EvaluationReport.objects.create(kind="enrolled", status="failed", progress=0.1,
                                             error="need at least two identities with approved photos to evaluate")
    html = admin_browser.get(reverse("evaluation:detail", args=[report.pk])).content.decode()
    assert 'http-equiv="refresh"' not in html
    assert "The report failed" in html and "need at least two identities" in html


def test_a_finished_report_shows_its_metrics_plots_exports_and_recommendations(admin_browser):
    report = finished_report()
    html = admin_browser.get(reverse("evaluation:detail", args=[report.pk])).content.decode()
    assert 'http-equiv="refresh"' not in html and "100%" in html
    # verification headline: AUC with its CI, EER with threshold, k-fold accuracy ± std
    assert "0.9875" in html and "95% CI 0.9610 – 0.9990" in html
    assert "5.00%" in html and "threshold 0.355" in html
    assert "92.50% ± 3.12%" in html and "10 folds" in html
    tar_table = re.search(r'<table id="tar-at-far">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr>.*?</tr>", tar_table.split("<tbody>")[1], re.S)
    assert "95.00%" in rows[0] and "unresolvable" not in rows[0]  # FAR 0.1 first, then 0.01
    assert "90.00%" in rows[1] and "unresolvable" in rows[1]
    # identification, open set, by attribute, excluded identities
    assert "nearest neighbour" in html and "85.00%" in html and "100.00%" in html
    assert re.search(r'<table id="dir-at-fpir">.*combined.*66.00%', html, re.S)
    by_attribute = re.search(r'<table id="by-attribute">.*?</table>', html, re.S).group(0)
    assert "cohort" in by_attribute and "2024" in by_attribute and "70.00%" in by_attribute
    assert "fewer than 10 genuine or impostor pairs" in by_attribute
    assert "Aaron_Peirsol: 2 photos" in html
    # skipped images: the first 50 and the count
    assert "Skipped images (60)" in html and "person_49/photo_0049.jpg" in html
    assert "person_50/photo_0050.jpg" not in html and "The first 50 of 60" in html
    # the plot, with its title as alt text and a download link; the exports
    plot_url = reverse("evaluation:plot", args=[report.pk, "roc"])
    assert f'<img src="{plot_url}" alt="ROC (verification)"' in html
    assert re.search(rf'<a href="{re.escape(plot_url)}" download="[^"]+">Download PNG</a>', html)
    assert reverse("evaluation:export_json", args=[report.pk]) in html
    assert reverse("evaluation:export_csv", args=[report.pk]) in html
    # recommendations: verify can be applied (with the unresolvable warning), identify says why not
    verify = re.search(r'<div class="recommendation" id="recommend-verify">.*?</form>', html, re.S).group(0)
    assert "0.5000" in verify and "target FAR 0.01" in verify and "Unresolvable" in verify
    assert re.search(r'<button type="submit">Apply as verify threshold</button>', verify)
    assert "In force for model" in verify
    assert f"{default_threshold('verify', model_version=serving_version()).value:.4f}" in verify
    identify = re.search(r'<div class="recommendation" id="recommend-identify">.*?</form>', html, re.S).group(0)
    assert re.search(r"<button[^>]* disabled[^>]*>Apply as identify threshold</button>", identify)
    assert "Cannot be applied: measured with flip TTA" in identify


def test_an_unknown_report_is_404(admin_browser):
    assert admin_browser.get(reverse("evaluation:detail", args=[999_999])).status_code == 404


# --- plots and exports --------------------------------------------------------------------


def test_a_plot_is_served_as_a_private_png(admin_browser):
    report = finished_report()
    response = admin_browser.get(reverse("evaluation:plot", args=[report.pk, "roc"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content).startswith(PNG_MAGIC)


def test_only_plots_the_report_lists_are_served(admin_browser):
    report = finished_report()
    (services.report_dir(report.pk) / "det.png").write_bytes(PNG_MAGIC)  # on disk, but not in report.plots
    base = reverse("evaluation:detail", args=[report.pk])
    for url in (reverse("evaluation:plot", args=[report.pk, "det"]), reverse("evaluation:plot", args=[report.pk, "x"]),
                f"{base}plots/../x.png", f"{base}plots/..%2Froc.png", f"{base}plots/%2E%2E%2Fx.png"):
        assert admin_browser.get(url).status_code == 404, url
    report.plots = {"roc": "roc.png", "cmc": "cmc.png"}  # listed, but its file is gone
    report.save(update_fields=["plots"])
    assert admin_browser.get(reverse("evaluation:plot", args=[report.pk, "cmc"])).status_code == 404


def test_the_exports_are_downloads_of_the_report_document_and_its_metrics(admin_browser):
    report = finished_report()
    response = admin_browser.get(reverse("evaluation:export_json", args=[report.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="report-{report.pk}.json"'
    document = json.loads(response.content)
    assert document["kind"] == "benchmark" and document["parameters"]["folder"] == "lfw"
    assert document["model_version"] == report.model_version and document["plots"] == {"roc": "roc.png"}
    assert document["metrics"]["verification"]["auc"] == 0.9875 and len(document["skipped"]) == 60

    response = admin_browser.get(reverse("evaluation:export_csv", args=[report.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="report-{report.pk}.csv"'
    text = response.content.decode()
    assert text.splitlines()[0] == "metric,value" and "verification.auc,0.9875" in text


def test_a_report_without_results_has_nothing_to_export(admin_browser):
    report = EvaluationReport.objects.create(kind="enrolled")
    assert admin_browser.get(reverse("evaluation:export_json", args=[report.pk])).status_code == 404
    assert admin_browser.get(reverse("evaluation:export_csv", args=[report.pk])).status_code == 404


# --- apply a recommended threshold --------------------------------------------------------


def test_staff_apply_the_recommended_verify_threshold(admin_browser, admin):
    report = finished_report(with_plot=False)
    response = admin_browser.post(reverse("evaluation:apply_threshold", args=[report.pk]), {"kind": "verify"},
                                  follow=True)
    assert response.redirect_chain[-1][0] == reverse("evaluation:detail", args=[report.pk])
    row = RecognitionThreshold.objects.get()
    assert row.kind == "verify" and row.value == 0.5 and row.report_id == report.pk and row.set_by == admin
    assert row.model_version == serving_version()
    html = response.content.decode()
    assert "The verify threshold is now 0.5000" in html
    assert f"was {default_threshold('verify', model_version=serving_version()).value:.4f}" in html
    assert "In force for model" in html and f"evaluation report #{report.pk}" in html


@pytest.mark.parametrize(("kwargs", "kind", "message"), [
    ({}, "identify", "cannot be applied: measured with flip TTA"),
    ({"model_version": "some-other-model"}, "verify", "run a new report"),
    ({"verify": {"threshold": None, "applicable": False,
                 "not_applicable_because": "no finite threshold reaches the target rate"}}, "verify",
     "no finite threshold reaches the target rate"),
])
def test_a_threshold_that_cannot_be_applied_says_why_and_changes_nothing(admin_browser, kwargs, kind, message):
    report = finished_report(with_plot=False, **kwargs)
    response = admin_browser.post(reverse("evaluation:apply_threshold", args=[report.pk]), {"kind": kind},
                                  follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"The {kind} threshold was not applied" in html and message in html
    assert not RecognitionThreshold.objects.exists()


def test_applying_from_a_report_that_is_not_finished_is_refused(admin_browser):
    report = EvaluationReport.objects.create(kind="enrolled", status="running",
                                             metrics=sample_metrics())
    response = admin_browser.post(reverse("evaluation:apply_threshold", args=[report.pk]), {"kind": "verify"},
                                  follow=True)
    assert "only a finished report can be applied" in response.content.decode()
    assert not RecognitionThreshold.objects.exists()
