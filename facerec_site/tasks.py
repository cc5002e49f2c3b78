"""Platform-level tasks."""

from celery import shared_task


@shared_task(name="facerec_site.ping")
def ping(payload: str = "pong") -> dict:
    """Round trip through broker and worker; used by the test suite and operators."""
    import os
    import socket

    return {"payload": payload, "worker_pid": os.getpid(), "host": socket.gethostname()}
