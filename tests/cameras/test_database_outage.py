"""A watcher that loses the database stops reading its cameras before their leases lapse, so the watcher
that may take one over once the database is back never reads it alongside; it reads again when the
database returns. The outage is real for the watcher: its DATABASE_URL goes through a TCP relay in this
process, which is cut (connections closed, new ones refused) and opened again."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from django.conf import settings

from tests.cameras.conftest import LEASE_S, camera_for, wait_until
from tests.cameras.streams import Programme

pytestmark = [pytest.mark.watcher, pytest.mark.django_db(transaction=True)]

PATH = "/door.mjpg"


class DatabaseRelay:
    """127.0.0.1:<port> relayed to the test database's socket (or host:port) while open."""

    def __init__(self, db: dict) -> None:
        host, port = db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)
        self.target = (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}") if host.startswith("/") else \
            (socket.AF_INET, (host, port))
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept(): from now on connections are refused
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.socket(self.target[0], socket.SOCK_STREAM)
            server.connect(self.target[1])
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_a_watcher_without_the_database_stops_reading_before_its_leases_lapse(stream_server, start_watcher):
    stream_server.programmes[PATH] = Programme(size=(320, 180), fps=10)
    camera = camera_for(stream_server, PATH, sample_fps=2)
    db = settings.DATABASES["default"]
    relay = DatabaseRelay(db)
    watcher = start_watcher("cut-off", DATABASE_URL=f"postgresql://{db['USER']}:{db['PASSWORD'] or ''}@127.0.0.1:"
                                                   f"{relay.port}/{db['NAME']}")
    reading = lambda: stream_server.requests_for(PATH).active == 1  # noqa: E731
    wait_until(reading, timeout_s=120, what="the watcher reads the camera", watchers=[watcher])

    relay.cut()
    cut_at = time.monotonic()
    wait_until(lambda: stream_server.requests_for(PATH).active == 0, timeout_s=LEASE_S + 5,
               what="the watcher stops reading", watchers=[watcher])
    # Before the lease it last renewed (at most a beat, LEASE_S / 3, before the cut) lapses.
    assert time.monotonic() - cut_at < LEASE_S
    assert watcher.proc.poll() is None  # waiting for the database, not dead

    relay.open()
    wait_until(reading, timeout_s=60, what="the watcher reads again once the database is back", watchers=[watcher])
    camera.refresh_from_db()
    assert camera.lease_owner == "cut-off"
    assert stream_server.requests_for(PATH).max_active == 1
