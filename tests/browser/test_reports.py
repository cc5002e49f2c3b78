"""In a real browser: a staff member runs a quick LFW benchmark report and sees its ROC plot."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from evaluation.models import EvaluationReport

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_until_finished(report: EvaluationReport, timeout_s: float = 120) -> EvaluationReport:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.is_finished:
            return report
        time.sleep(0.5)
    raise AssertionError(f"report #{report.pk} still {report.status} ({report.progress:.0%}, "
                         f"{report.progress_message!r}) after {timeout_s}s")


def test_a_benchmark_report_runs_and_its_page_shows_the_roc_plot(celery_worker, logged_in_page, tmp_path):
    page = logged_in_page("analyst", role="admin")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="New report").click()
    page.select_option("select[name=kind]", "benchmark")
    page.select_option("select[name=folder]", "lfw")
    page.fill("input[name=pairs]", "pairs.txt")
    page.fill("input[name=pairs_per_fold]", "2")  # 2 genuine + 2 impostor pairs of each of 10 folds
    with page.expect_navigation():
        page.click("button:has-text('Run the report')")

    report = EvaluationReport.objects.get()
    assert page.url.endswith(f"/reports/{report.pk}/")
    expect(page.locator("progress#report-progress")).to_be_visible()
    report = _wait_until_finished(report)
    assert report.status == EvaluationReport.Status.DONE, report.error
    assert report.metrics["data"]["pairs"] == 40

    # The page refreshes itself every 3 s until it shows the finished report.
    expect(page.locator("#report-status")).to_have_text("Done", timeout=15_000)
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    roc = page.get_by_alt_text("ROC (verification)")
    expect(roc).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=roc.element_handle())
    assert roc.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#verification")).to_contain_text("AUC")
    expect(page.get_by_role("button", name="Apply as verify threshold")).to_be_visible()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
