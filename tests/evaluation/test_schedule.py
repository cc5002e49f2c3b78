"""The weekly enrolled-data report the beat schedule can run."""

import pytest

from evaluation import services
from evaluation.models import EvaluationReport

pytestmark = pytest.mark.django_db


def test_the_scheduled_report_is_created_once_while_one_waits():
    first = services.schedule_enrolled_report()

    assert first is not None and first.kind == "enrolled" and first.scheduled and first.status == "pending"
    assert services.schedule_enrolled_report() is None  # the first one has not run yet
    EvaluationReport.objects.filter(pk=first.pk).update(status="done")
    assert services.schedule_enrolled_report() is not None


def test_a_report_the_broker_refused_fails_with_a_reason(monkeypatch, django_capture_on_commit_callbacks):
    from evaluation.tasks import run_report

    def unreachable(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(run_report, "apply_async", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.create_report(kind="enrolled")

    report.refresh_from_db()
    assert report.status == "failed" and "queue was unreachable" in report.error
