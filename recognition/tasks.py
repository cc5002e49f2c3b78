"""Celery tasks of the recognition side: thin, idempotent, take ids."""

from celery import shared_task

from recognition import services


@shared_task(name="recognition.tasks.retrain_classifier")
def retrain_classifier(version_id: int) -> dict | None:
    version = services.retrain(version_id)
    return None if version is None else {"version": version.pk, "status": version.status}


@shared_task(name="recognition.tasks.embed_missing_templates", bind=True)
def embed_missing_templates(self, batch_size: int = 64) -> dict:
    """Re-embed photos for the current model in batches, then retrain; the old version stays
    searchable for nothing (probes are always embedded with the current model)."""
    progress = services.reembed_batch(batch_size=batch_size)
    if progress["embedded"] and progress["remaining"]:
        embed_missing_templates.apply_async(kwargs={"batch_size": batch_size})
    elif progress["embedded"]:
        services.request_retrain_now()
    return progress
