"""Beat's stale-photo sweep (every 120 s, photos only) becomes the recovery sweep (every 15 s:
photos, reports and messages a dead worker held). A schedule staff switched off stays off."""

from django.db import migrations

OLD_NAME, NEW_NAME = "requeue-stale-photos", "recover-lost-work"
NEW_TASK = "facerec_site.tasks.recover_lost_work"


def forwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    old = PeriodicTask.objects.filter(name=OLD_NAME).first()
    if old is None or PeriodicTask.objects.filter(name=NEW_NAME).exists():
        return  # a new installation: beat writes the schedule from settings when it starts
    every_15_s, _ = IntervalSchedule.objects.get_or_create(every=15, period="seconds")
    old.name, old.task, old.interval, old.crontab = NEW_NAME, NEW_TASK, every_15_s, None
    old.expire_seconds = 15  # a sweep that waited a whole interval is dropped: the next one does its job
    old.save()


class Migration(migrations.Migration):
    dependencies = [
        ("facerec_site", "0001_sharedsetting"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
