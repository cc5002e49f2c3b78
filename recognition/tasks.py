"""Celery tasks of the recognition side: thin, idempotent, take ids."""

from celery import shared_task


@shared_task(name="recognition.tasks.retrain_classifier")
def retrain_classifier(version_id: int) -> dict | None:
    # inside: services import this module (the task <-> service cycle)
    from recognition.services import retrain

    version = retrain(version_id)
    return None if version is None else {"version": version.pk, "status": version.status}


@shared_task(name="recognition.tasks.embed_missing_templates", bind=True)
def embed_missing_templates(self, batch_size: int = 64, weights: str | None = None) -> dict:
    """Embed photos for `weights` (the next model) in batches, re-queuing itself until none is
    missing, then train that version's classifier; see `manage.py reembed`."""
    # inside: services import this module (the task <-> service cycle)
    from recognition.services import reembed_batch, request_retrain_now

    progress = reembed_batch(batch_size=batch_size, weights=weights)
    if progress["embedded"] and progress["remaining"]:
        embed_missing_templates.apply_async(kwargs={"batch_size": batch_size, "weights": weights})
    elif progress["embedded"]:
        request_retrain_now(model_version=progress["model_version"])
    return progress
