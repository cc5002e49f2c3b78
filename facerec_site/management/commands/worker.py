"""Start a Celery worker of this deployment (`make worker`, `make run`, containers, other machines).

The same as `celery -A facerec_site worker`, with what a deployment needs by default: a node
name unique on its host (two workers named `celery@host` answer each other's pings and
control commands), the queues to consume, and the check that its settings match the site's
(facerec_site.worker_setup, run by every worker at start).
"""

from __future__ import annotations

import os
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from facerec_site.celery import app


def default_node_name(queues: list[str]) -> str:
    """`<queues>-<pid>@<host>`: unique on one host while the worker runs, and says what it serves."""
    return f"{'+'.join(queues)}-{os.getpid()}@{socket.gethostname()}"


class Command(BaseCommand):
    help = "Start a Celery worker (unique name, settings checked against the site's before it takes work)."

    def add_arguments(self, parser):
        queues = f"default,{settings.GPU_QUEUE}"
        parser.add_argument("--queues", "-Q", default=queues,
                            help=f"comma-separated queues to consume (default {queues}; `gpu` embeds faces, "
                                 "`default` is everything else)")
        parser.add_argument("--concurrency", "-c", type=int, default=1,
                            help="worker processes (each loads the models; one per GPU or per ~2 cores)")
        parser.add_argument("--name", "-n", default="",
                            help="node name, name@host (default: <queues>-<pid>@<host>)")
        parser.add_argument("--loglevel", "-l", default="INFO")

    def handle(self, *args, queues: str, concurrency: int, name: str, loglevel: str, **options):
        names = [queue.strip() for queue in queues.split(",") if queue.strip()]
        known = {"default", settings.GPU_QUEUE}
        if not names or not set(names) <= known:
            raise CommandError(f"--queues takes {', '.join(sorted(known))} (comma-separated), not {queues!r}")
        if concurrency < 1:
            raise CommandError(f"--concurrency must be at least 1, not {concurrency}")
        # prefork (Celery's default) is required: its main process answers control commands while
        # tasks run, which is how the sweeper tells a busy worker from a dead one.
        app.worker_main(["worker", "--queues", ",".join(names), "--concurrency", str(concurrency),
                         "--hostname", name or default_node_name(names), "--loglevel", loglevel,
                         "--pool", "prefork"])
