"""Sending Celery tasks from services, where a broker outage must not turn stored work into an error.

The committed rows are the outbox: whatever could not be sent is left for a scheduled
sweep (or marked failed by `on_failure`), so the caller's request still succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

# Worth a task's retry (the disk, the database or a model file for a moment); other errors fail the work.
TRANSIENT_ERRORS = (OSError, ConnectionError, TimeoutError)


def send_task(task, args=(), *, on_failure: Callable[[Exception], None] | None = None, **options) -> bool:
    """`task.apply_async(args, **options)`; on any failure (kombu's OperationalError for the broker,
    RuntimeError from the result store's subscription) log it, call `on_failure(exc)` and return False.
    Settings bound the publish retries, so an outage costs well under a second."""
    try:
        task.apply_async(args=list(args), **options)
    except Exception as exc:
        log.warning("could not queue %s%s (%s: %s)", task.name, list(args), type(exc).__name__,
                    str(exc).strip()[:200])
        if on_failure is not None:
            on_failure(exc)
        return False
    return True


def enqueue_on_commit(task, args=(), *, on_failure: Callable[[Exception], None] | None = None, **options) -> None:
    """send_task once the caller's transaction commits, so a worker never sees a rolled-back row."""
    transaction.on_commit(lambda: send_task(task, args, on_failure=on_failure, **options))
