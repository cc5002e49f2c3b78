"""Celery tasks of evaluation: thin, idempotent, take ids."""

from celery import shared_task


@shared_task(name="evaluation.tasks.run_report")
def run_report(report_id: int) -> dict | None:
    from evaluation import services  # inside: services import this module (the task <-> service cycle)

    report = services.run_report(report_id)
    return None if report is None else {"report": report.pk, "status": report.status}


@shared_task(name="evaluation.tasks.scheduled_enrolled_report")
def scheduled_enrolled_report() -> int | None:
    from evaluation import services  # inside: services import this module (the task <-> service cycle)

    report = services.schedule_enrolled_report()
    return None if report is None else report.pk
