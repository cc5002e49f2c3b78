"""The Celery app, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_shutdown, worker_ready

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


# Tasks by name and outcome, with durations (facerec_celery_tasks_total, ..._seconds); imports inside:
# prometheus_client reads PROMETHEUS_MULTIPROC_DIR when imported, and only a worker needs it here.
@task_prerun.connect
def _task_started(task_id=None, **kwargs):
    from monitoring.metrics import task_started

    task_started(task_id)


@task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs):
    from monitoring.metrics import task_finished

    task_finished(task_id, getattr(task, "name", "unknown"), state)


@worker_process_shutdown.connect
def _pool_process_gone(pid=None, **kwargs):
    from monitoring.metrics import process_exited

    process_exited(pid or os.getpid())


@worker_ready.connect
def _serve_worker_metrics(sender=None, **kwargs):
    """FACEREC_WORKER_METRICS_PORT: this worker's task metrics on its own port (monitoring.worker_endpoint),
    started in the main process once the pool is up (no pool process inherits the socket)."""
    from django.conf import settings

    if settings.FACEREC_WORKER_METRICS_PORT:
        from monitoring.worker_endpoint import serve

        serve(settings.FACEREC_WORKER_METRICS_HOST, settings.FACEREC_WORKER_METRICS_PORT,
              settings.FACEREC_METRICS_TOKEN)
