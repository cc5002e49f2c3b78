"""gunicorn settings read with `--config python:facerec_site.gunicorn_config` (make run, compose).

The hooks run in gunicorn's arbiter, where Django is not set up: nothing of the apps here."""

import os

from prometheus_client import multiprocess


def child_exit(server, worker):
    """A web process is gone: prometheus_client drops its live gauges (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
