"""gunicorn settings read with `--config python:facerec_site.gunicorn_config` (make run, compose)."""


def child_exit(server, worker):
    """A web process is gone: prometheus_client drops its live gauges (multiprocess mode)."""
    # inside: the import reads PROMETHEUS_MULTIPROC_DIR, which the settings have set by now
    from monitoring.metrics import process_exited

    process_exited(worker.pid)
