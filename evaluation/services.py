"""Writes of the evaluation side: create and run reports, apply their recommended thresholds."""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from collections.abc import Collection
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import services as audit
from core.errors import DomainError, InvalidTransition, NotFound
from core.tasks import enqueue_on_commit
from evaluation import reports
from evaluation.datasets import DatasetError
from evaluation.models import EvaluationReport
from evaluation.tasks import run_report as run_report_task
from recognition.models import RecognitionThreshold
from recognition.runtime import get_embedder
from recognition.services import set_threshold
from webhooks.services import emit

log = logging.getLogger(__name__)

# A report still `running` this long after it started lost its worker; a redelivered
# task may take it over (the broker redelivers after its visibility timeout).
STALE_RUNNING_AFTER = timedelta(hours=1)
PROGRESS_EVERY_S = 0.5


def report_dir(report_id: int) -> Path:
    """Plots and exports of one report; follows MEDIA_ROOT at each use, like the photo storage."""
    return Path(settings.MEDIA_ROOT) / "reports" / str(int(report_id))


def report_task_id(report_id: int) -> str:
    return f"evaluation-report-{report_id}"


@transaction.atomic
def create_report(*, kind: str, parameters: dict | None = None, actor=None, scheduled: bool = False
                  ) -> EvaluationReport:
    """Validate the parameters, store a pending report and queue it on commit."""
    try:
        cleaned = reports.clean_parameters(kind, parameters)
    except reports.ParameterError as exc:
        raise DomainError(str(exc), code="invalid_parameters", field=exc.field) from None
    report = EvaluationReport.objects.create(kind=kind, parameters=cleaned, created_by=actor, scheduled=scheduled,
                                             task_id=report_task_id(0), progress_message="queued")
    report.task_id = report_task_id(report.pk)
    report.save(update_fields=["task_id"])
    audit.record(action="evaluation.report_requested", actor=actor, target=report,
                 details={"kind": kind, "parameters": cleaned, "scheduled": scheduled})

    def _unreachable(exc: Exception) -> None:
        # Say so on the report instead of leaving it pending.
        EvaluationReport.objects.filter(pk=report.pk, status=EvaluationReport.Status.PENDING).update(
            status=EvaluationReport.Status.FAILED, error="the job queue was unreachable; create the report again",
            finished_at=timezone.now(), progress_message="failed")

    enqueue_on_commit(run_report_task, [report.pk], task_id=report.task_id, on_failure=_unreachable)
    return report


def _claim(report_id: int) -> bool:
    stale = timezone.now() - STALE_RUNNING_AFTER
    return bool(EvaluationReport.objects.filter(pk=report_id).filter(
        Q(status=EvaluationReport.Status.PENDING)
        | Q(status=EvaluationReport.Status.RUNNING, started_at__lt=stale),
    ).update(status=EvaluationReport.Status.RUNNING, started_at=timezone.now(), progress=0.0,
             progress_message="starting", attempts=F("attempts") + 1))


def requeue_orphaned_reports(*, held_report_ids: Collection[int], older_than_s: float, max_attempts: int = 3
                             ) -> list[int]:
    """Reports `running` that no live worker holds (its worker died) are queued again from the start; one
    that stopped its worker `max_attempts` times fails instead (it may be what kills the worker). The
    recovery sweep (facerec_site.recovery) says which ones the live workers hold."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    with transaction.atomic():
        orphaned = list(EvaluationReport.objects.select_for_update(skip_locked=True).filter(
            status=EvaluationReport.Status.RUNNING, started_at__lt=cutoff).exclude(
            pk__in=list(held_report_ids)).values_list("pk", "attempts"))
        if not orphaned:
            return []
        given_up = [pk for pk, attempts in orphaned if attempts >= max_attempts]
        again = [pk for pk, attempts in orphaned if attempts < max_attempts]
        EvaluationReport.objects.filter(pk__in=given_up).update(
            status=EvaluationReport.Status.FAILED, finished_at=timezone.now(), progress_message="failed",
            error=f"its worker stopped {max_attempts} times while running it (crashed, killed or out of "
                  "memory); it is not tried again: create it with smaller parameters")
        EvaluationReport.objects.filter(pk__in=again).update(
            status=EvaluationReport.Status.PENDING, progress=0.0, progress_message="queued again: its worker stopped")
        audit.record(action="evaluation.report_requeued", details={"report_ids": again, "failed": given_up})
        for pk in again:
            enqueue_on_commit(run_report_task, [pk], task_id=report_task_id(pk))
    return again


def run_report(report_id: int) -> EvaluationReport | None:
    """Compute a pending report; a second delivery finds it claimed and does nothing."""
    if not _claim(report_id):
        return None
    report = EvaluationReport.objects.get(pk=report_id)
    claim = report.attempts  # a later start (the sweep judged this run lost) makes this run's results void
    out_dir = report_dir(report.pk)
    shutil.rmtree(out_dir, ignore_errors=True)
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or fraction >= 1.0:
            last[0] = now
            EvaluationReport.objects.filter(pk=report_id).update(progress=round(min(fraction, 1.0), 4),
                                                                  progress_message=message[:200])

    try:
        output = reports.run_report(report.kind, report.parameters, out_dir, progress)
    except (reports.ParameterError, DatasetError) as exc:
        return _finish_failed(report, str(exc), claim=claim)
    except Exception as exc:
        log.exception("evaluation report %s failed", report_id)
        return _finish_failed(report, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()[-3000:]}",
                              claim=claim)
    document = reports.report_document(kind=report.kind, parameters=report.parameters, output=output)
    reports.write_exports(out_dir, document)
    with transaction.atomic():
        if not EvaluationReport.objects.filter(pk=report_id, attempts=claim).update(
                status=EvaluationReport.Status.DONE, progress=1.0, progress_message="done", metrics=output.metrics,
                plots=output.plots, skipped=output.skipped, model_version=output.model_version,
                classifier_version=output.classifier_version, finished_at=timezone.now(), error=""):
            return None  # started again meanwhile: that run's results are the report's
        report.refresh_from_db()
        audit.record(action="evaluation.report_finished", target=report,
                     details={"kind": report.kind, "status": report.status})
        emit("report.finished", {"report_id": report.pk, "report_kind": report.kind, "status": report.status})
    return report


def _finish_failed(report: EvaluationReport, error: str, *, claim: int) -> EvaluationReport | None:
    with transaction.atomic():
        if not EvaluationReport.objects.filter(pk=report.pk, attempts=claim).update(
                status=EvaluationReport.Status.FAILED, error=error[:5000], finished_at=timezone.now(),
                progress_message="failed"):
            return None  # started again meanwhile: its files are that run's
        shutil.rmtree(report_dir(report.pk), ignore_errors=True)
        report.refresh_from_db()
        audit.record(action="evaluation.report_finished", target=report,
                     details={"kind": report.kind, "status": report.status})
        emit("report.finished", {"report_id": report.pk, "report_kind": report.kind, "status": report.status})
    return report


THRESHOLD_KINDS = {RecognitionThreshold.Kind.VERIFY: "verification",
                   RecognitionThreshold.Kind.IDENTIFY: "open-set identification"}


def apply_recommended_threshold(*, report_id: int, kind: str, actor=None):
    """Make a finished report's recommended threshold the platform's verify or identify threshold."""
    if kind not in THRESHOLD_KINDS:
        raise DomainError("kind must be verify or identify", code="invalid", field="kind")
    report = EvaluationReport.objects.filter(pk=report_id).first()
    if report is None:
        raise NotFound(f"no report #{report_id}")
    if report.status != EvaluationReport.Status.DONE:
        raise InvalidTransition(f"report #{report.pk} is {report.status}; only a finished report can be applied")
    recommendation = (report.metrics.get("recommended") or {}).get(kind)
    if not recommendation:
        raise InvalidTransition(f"report #{report.pk} measured no {THRESHOLD_KINDS[kind]} threshold",
                                code="no_recommendation", field="kind")
    if not recommendation.get("applicable"):
        raise InvalidTransition(f"report #{report.pk}'s threshold cannot be applied: "
                                f"{recommendation.get('not_applicable_because')}", code="not_applicable")
    serving = get_embedder().model_info.version
    if report.model_version != serving:
        raise InvalidTransition(f"report #{report.pk} measured model {report.model_version}, "
                                f"the platform serves {serving}: run a new report", code="model_mismatch")
    return set_threshold(kind=kind, value=float(recommendation["threshold"]), model_version=serving, actor=actor,
                         source=f"evaluation report #{report.pk}", report_id=report.pk)


def schedule_enrolled_report() -> EvaluationReport | None:
    """The weekly report; skipped while an enrolled-data report is still waiting or running."""
    busy = EvaluationReport.objects.filter(kind=EvaluationReport.Kind.ENROLLED,
                                           status__in=[EvaluationReport.Status.PENDING,
                                                       EvaluationReport.Status.RUNNING]).exists()
    if busy:
        return None
    return create_report(kind=EvaluationReport.Kind.ENROLLED, parameters={}, scheduled=True)
