"""Celery tasks of enrollment: thin, idempotent, take ids."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from identities import services

log = logging.getLogger(__name__)


@shared_task(name="identities.tasks.process_enrollment_image", bind=True, max_retries=3,
             autoretry_for=(OSError, ConnectionError, TimeoutError), retry_backoff=5, retry_jitter=True)
def process_enrollment_image(self, image_id: int) -> str | None:
    """Detect, check, crop and embed one photo. A second delivery finds it claimed and does nothing."""
    try:
        return services.process_photo(image_id)
    except self.autoretry_for:
        # Give the claim back so the retry (or the sweeper) can take it again.
        from identities.models import EnrollmentImage

        EnrollmentImage.objects.filter(pk=image_id, status="processing").update(status="pending")
        if self.request.retries >= self.max_retries:
            services.mark_failed(image_id, "gave up after repeated transient errors")
        raise
    except Exception as exc:
        log.exception("processing photo %s failed", image_id)
        services.mark_failed(image_id, f"{type(exc).__name__}: {exc}")
        return "failed"


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
