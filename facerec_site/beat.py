"""Celery beat's scheduler: django-celery-beat's database schedule, seeded once from settings.

django-celery-beat rewrites every CELERY_BEAT_SCHEDULE entry into the database each
time beat starts, which would undo a staff member's change (another time, a job
switched off) at the next restart. Here the settings only add jobs that are not in
the database yet; after that the admin's Periodic tasks pages are the schedule.
"""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler


class SeededDatabaseScheduler(DatabaseScheduler):
    def update_from_dict(self, mapping):
        existing = set(PeriodicTask.objects.filter(name__in=list(mapping)).values_list("name", flat=True))
        super().update_from_dict({name: entry for name, entry in mapping.items() if name not in existing})
