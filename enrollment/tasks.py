"""Celery tasks of enrollment: thin, idempotent, take ids.

The `name=` values are those the tasks had in identities and reenrollment: queued
messages and beat rows resolve by name.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from core.tasks import TRANSIENT_ERRORS



@shared_task(name="identities.tasks.process_enrollment_image", bind=True, max_retries=3,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, retry_jitter=True)
def process_enrollment_image(self, image_id: int) -> str | None:
    """Detect, check, crop and embed one photo. A second delivery finds it claimed and does nothing;
    the service gives the claim back on a transient error and fails the photo on any other."""
    from enrollment.services import processing  # inside: services import this module (the task <-> service cycle)

    try:
        return processing.process_photo(image_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            processing.mark_failed(image_id, "gave up after repeated transient errors", only_pending=True)
        raise


@shared_task(name="identities.tasks.requeue_stale_photos")
def requeue_stale_photos() -> list[int]:
    """The time-based sweep alone; beat now runs facerec_site.tasks.recover_lost_work, which also asks the
    live workers. Kept for a schedule an administrator renamed before that migration, or queued copies."""
    from enrollment.services import photos  # inside: services import this module (the task <-> service cycle)

    return photos.requeue_stale_photos(pending_after_s=settings.FACEREC_REQUEUE_PENDING_AFTER_S,
                                       processing_after_s=settings.FACEREC_REQUEUE_PROCESSING_AFTER_S,
                                       max_attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS)


@shared_task(name="identities.tasks.erase_due_identities")
def erase_due_identities() -> list[int]:
    """Hourly: identities whose erasure date (after a consent lapse) has come."""
    from enrollment.services import erasure  # inside: services import this module (the task <-> service cycle)

    return erasure.erase_due_identities()


@shared_task(name="reenrollment.tasks.expire_consents")
def expire_consents() -> list[int]:
    """Daily: templates of identities whose consent expired go off; erasure follows the grace period."""
    from enrollment.services import consent  # inside: services import this module (the task <-> service cycle)

    return consent.expire_consents()
