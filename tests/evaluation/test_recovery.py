"""Reports a dead worker was running are queued again by the recovery sweep; others are left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from evaluation import services
from evaluation.models import EvaluationReport

pytestmark = pytest.mark.django_db  # the re-send waits for a commit that never comes: nothing is queued


def running_report(started_s_ago: float, attempts: int = 1) -> EvaluationReport:
    return EvaluationReport.objects.create(kind="benchmark", status="running", progress=0.4, attempts=attempts,
                                           started_at=timezone.now() - timedelta(seconds=started_s_ago))


def test_a_running_report_no_live_worker_holds_is_queued_again_from_the_start():
    orphan = running_report(started_s_ago=120)

    assert services.requeue_orphaned_reports(held_report_ids=set(), older_than_s=5) == [orphan.pk]

    orphan.refresh_from_db()
    assert (orphan.status, orphan.progress) == ("pending", 0.0)
    assert "its worker stopped" in orphan.progress_message
    assert AuditLog.objects.get(action="evaluation.report_requeued").details == {"report_ids": [orphan.pk],
                                                                                "failed": []}


def test_a_report_that_stopped_its_worker_too_often_fails_instead_of_looping():
    poison = running_report(started_s_ago=120, attempts=3)

    assert services.requeue_orphaned_reports(held_report_ids=set(), older_than_s=5, max_attempts=3) == []

    poison.refresh_from_db()
    assert poison.status == "failed" and "stopped 3 times" in poison.error


def test_a_report_a_live_worker_runs_or_that_just_started_is_left_alone():
    held, fresh = running_report(started_s_ago=120), running_report(started_s_ago=1)

    assert services.requeue_orphaned_reports(held_report_ids={held.pk}, older_than_s=5) == []

    assert set(EvaluationReport.objects.values_list("status", flat=True)) == {"running"}
    assert not AuditLog.objects.filter(action="evaluation.report_requeued").exists()
