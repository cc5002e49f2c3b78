"""Platform-level tasks."""

import os
import socket

from celery import shared_task

from facerec_site.celery import app
from facerec_site.recovery import recover_lost_work as recover


@shared_task(name="facerec_site.ping")
def ping(payload: str = "pong") -> dict:
    """Round trip through broker and worker; used by the test suite and operators."""
    return {"payload": payload, "worker_pid": os.getpid(), "host": socket.gethostname()}


@shared_task(name="facerec_site.tasks.recover_lost_work")
def recover_lost_work() -> dict:
    """Beat's sweep (every FACEREC_RECOVERY_INTERVAL_S): work dead workers held goes back to the queues."""
    return recover(app)
