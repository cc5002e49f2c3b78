"""Celery tasks of enrollment: thin, idempotent, take ids."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from identities import services



@shared_task(name="identities.tasks.process_enrollment_image", bind=True, max_retries=3,
             autoretry_for=services.TRANSIENT_ERRORS, retry_backoff=5, retry_jitter=True)
def process_enrollment_image(self, image_id: int) -> str | None:
    """Detect, check, crop and embed one photo. A second delivery finds it claimed and does nothing;
    the service gives the claim back on a transient error and fails the photo on any other."""
    try:
        return services.process_photo(image_id)
    except services.TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            services.mark_failed(image_id, "gave up after repeated transient errors", only_pending=True)
        raise


@shared_task(name="identities.tasks.requeue_stale_photos")
def requeue_stale_photos() -> list[int]:
    """The time-based sweep alone; beat now runs facerec_site.tasks.recover_lost_work, which also asks the
    live workers. Kept for a schedule an administrator renamed before that migration, or queued copies."""
    return services.requeue_stale_photos(pending_after_s=settings.FACEREC_REQUEUE_PENDING_AFTER_S,
                                         processing_after_s=settings.FACEREC_REQUEUE_PROCESSING_AFTER_S,
                                         max_attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS)


@shared_task(name="identities.tasks.erase_due_identities")
def erase_due_identities() -> list[int]:
    return services.erase_due_identities()
