"""Celery tasks of the cameras app: thin, idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="cameras.tasks.expire_sightings")
def expire_sightings() -> dict:
    """Every 15 minutes: sightings older than FACEREC_SIGHTING_DAYS go, and unknown people's crops older than
    FACEREC_UNKNOWN_CROP_HOURS; watchers not heard of for an hour are forgotten."""
    from cameras.services import leases, sightings

    leases.forget_dead_watchers()
    return sightings.expire_sightings()
