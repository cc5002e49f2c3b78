"""Celery tasks of the videos app: thin, idempotent, take ids."""

from __future__ import annotations

from celery import shared_task

from core.tasks import TRANSIENT_ERRORS


@shared_task(name="videos.tasks.process_video", bind=True, max_retries=3, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=5, retry_jitter=True)
def process_video(self, video_id: int) -> str | None:
    """Decode, track and decide one video (the gpu queue). A second delivery finds it claimed and does
    nothing; a bad file ends the job `failed` with its reason, never a retry. The service gives the claim
    back on a transient error; after the last retry the video fails here, and its upload is deleted."""
    from videos.services import processing  # inside: services import this module (the task <-> service cycle)

    try:
        return processing.process_video(video_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            processing.fail_video(video_id, code=processing.PROCESSING_ERROR,
                                  detail="gave up after repeated transient errors", only_pending=True)
        raise


@shared_task(name="videos.tasks.expire_video_results")
def expire_video_results() -> int:
    """Daily: results older than FACEREC_VIDEO_RESULT_DAYS go, with their crops."""
    from videos.services import retention  # inside: services import this module (the task <-> service cycle)

    return retention.expire_results()
