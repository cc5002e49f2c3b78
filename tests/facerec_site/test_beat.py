"""Beat's schedule lives in the database: seeded from settings once, then staff edits stick."""

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from facerec_site.beat import SeededDatabaseScheduler
from facerec_site.celery import app

# The scheduler closes database connections as beat does, so no wrapping test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def start_beat() -> SeededDatabaseScheduler:
    """What `celery beat` does at start-up with the configured scheduler (without the loop)."""
    return SeededDatabaseScheduler(app=app, lazy=False)


def test_beat_uses_the_seeded_database_scheduler():
    assert app.conf.beat_scheduler == "facerec_site.beat:SeededDatabaseScheduler"


def test_the_first_start_writes_every_scheduled_job_to_the_database():
    start_beat()

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(settings.CELERY_BEAT_SCHEDULE) <= names
    check = PeriodicTask.objects.get(name="check-reenrollment")
    assert check.task == "reenrollment.tasks.check_reenrollment"
    assert (check.crontab.minute, check.crontab.hour) == ("0", "2")


def test_staff_changes_survive_the_next_start():
    start_beat()
    consents = PeriodicTask.objects.get(name="expire-consents")
    consents.crontab.hour = "5"
    consents.crontab.save()
    PeriodicTask.objects.filter(name="erase-due-identities").update(enabled=False)

    scheduler = start_beat()

    consents.refresh_from_db()
    assert consents.crontab.hour == "5"
    assert PeriodicTask.objects.get(name="erase-due-identities").enabled is False
    assert "erase-due-identities" not in scheduler.schedule  # a switched-off job is not run
    assert "recover-lost-work" in scheduler.schedule
    # A sweep that waited a whole interval is dropped, not run late behind the others.
    assert scheduler.schedule["recover-lost-work"].options["expires"] == settings.FACEREC_RECOVERY_INTERVAL_S


def test_the_admin_lists_periodic_tasks_for_staff(admin_client):
    start_beat()
    response = admin_client.get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200
    assert b"check-reenrollment" in response.content


def test_the_weekly_report_is_scheduled_but_off_by_default():
    start_beat()

    weekly = PeriodicTask.objects.get(name="weekly-enrolled-report")
    assert weekly.task == "evaluation.tasks.scheduled_enrolled_report"
    assert weekly.enabled is False
    assert weekly.crontab.day_of_week == "1" and weekly.crontab.hour == "3"


def test_an_installation_with_the_old_two_minute_photo_sweep_gets_the_recovery_sweep():
    """facerec_site 0002, on the schedule row an older release wrote (switched off by staff here)."""
    from importlib import import_module

    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule

    migration = import_module("facerec_site.migrations.0002_recovery_sweep_schedule")
    PeriodicTask.objects.create(name="requeue-stale-photos", task="identities.tasks.requeue_stale_photos",
                                interval=IntervalSchedule.objects.create(every=120, period="seconds"), enabled=False)

    migration.forwards(apps, None)

    sweep = PeriodicTask.objects.get(name="recover-lost-work")
    assert sweep.task == "facerec_site.tasks.recover_lost_work"
    assert (sweep.interval.every, sweep.interval.period) == (15, "seconds") and sweep.expire_seconds == 15
    assert sweep.enabled is False  # the staff's choice stays
    assert not PeriodicTask.objects.filter(name="requeue-stale-photos").exists()
