"""The Celery app, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_init

from facerec_site import environment

# Workers and beat read .env as every other entry point does (Celery itself would let a
# CELERY_BROKER_URL in the environment win over settings: they must be the same value).
environment.load()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")

app = Celery("facerec_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Registers the workers' state command (health, recovery) and stamps each message's send time.
from facerec_site import workers  # noqa: E402,F401


@worker_init.connect
def _refuse_unless_ready(sender=None, **kwargs):
    """Every worker, however started, checks it shares the site's keys, weights and storage."""
    # inside: worker_setup imports models; this module loads before the apps are ready
    from facerec_site.worker_setup import refuse_unless_ready

    refuse_unless_ready(sender)
