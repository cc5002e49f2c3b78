"""Several watchers share the cameras (cameras.services.leases, real processes and database): no camera is
read twice, the cameras are spread, and a watcher that dies has its cameras taken over."""

from __future__ import annotations

import signal
import time

import pytest

from audit.models import AuditLog
from cameras.models import Camera
from tests.cameras.conftest import LEASE_S, camera_for, wait_until
from tests.cameras.streams import Programme

pytestmark = [pytest.mark.watcher, pytest.mark.django_db(transaction=True)]

PATHS = ("/a.mjpg", "/b.mjpg", "/c.mjpg")


def owners() -> dict[int, str]:
    return dict(Camera.objects.filter(state=Camera.State.CONNECTED).values_list("pk", "lease_owner"))


def test_two_watchers_share_three_cameras_and_one_takes_over_when_the_other_dies(stream_server, start_watcher):
    for path in PATHS:  # no faces: the plain background, small and slow, to keep the machine free
        stream_server.programmes[path] = Programme(size=(320, 180), fps=10)
    cameras = [camera_for(stream_server, path, sample_fps=2) for path in PATHS]
    first, second = start_watcher("first"), start_watcher("second")

    def spread():
        held = owners()
        return len(held) == 3 and set(held.values()) == {"first", "second"}

    wait_until(spread, timeout_s=120, what="the three cameras read by both watchers", watchers=[first, second])
    time.sleep(2 * LEASE_S)  # a few heartbeats: the spread holds, nobody grabs another's camera
    assert spread()
    assert all(stream_server.requests_for(path).max_active == 1 for path in PATHS)  # never read twice at once

    first.stop(signal.SIGKILL)  # dies without letting its cameras go
    killed_at = time.monotonic()
    wait_until(lambda: set(owners().values()) == {"second"} and len(owners()) == 3, timeout_s=30,
               what="the second watcher reads all three", watchers=[second])
    assert time.monotonic() - killed_at < LEASE_S + 10
    assert all(stream_server.requests_for(path).active == 1 for path in PATHS)
    assert all(stream_server.requests_for(path).max_active == 1 for path in PATHS)
    assert AuditLog.objects.filter(action="camera.takeover").count() >= 1
    assert {c.pk for c in cameras} == set(owners())
