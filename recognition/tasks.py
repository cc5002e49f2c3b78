"""Celery tasks of the recognition side: thin, idempotent, take ids."""

from celery import shared_task

from recognition import services


@shared_task(name="recognition.tasks.retrain_classifier")
def retrain_classifier(version_id: int) -> dict | None:
    version = services.retrain(version_id)
    return None if version is None else {"version": version.pk, "status": version.status}
