"""`manage.py watch_cameras`: a watcher process (make run starts one; start more on other machines:
they share the cameras through leases in the database)."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from cameras.watcher import CameraWatcher


class Command(BaseCommand):
    help = "Watch the enabled cameras (as many as this watcher's share) until stopped (SIGTERM / Ctrl-C)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None, help="This watcher's name (default: host-pid-random).")
        parser.add_argument("--max-cameras", type=int, default=None,
                            help="At most this many cameras (default FACEREC_CAMERA_MAX_PER_WATCHER).")

    def handle(self, *args, name=None, max_cameras=None, **options):
        watcher = CameraWatcher(name=name, capacity=max_cameras)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: watcher.stop_event.set())
        watcher.run()
