"""The watcher's own checks, in this process (no stream needed): a stream URL it cannot unseal is the
camera's error, not a crash."""

from __future__ import annotations

import pytest

from cameras.models import Camera
from cameras.services import leases
from cameras.watcher import URL_UNREADABLE, CameraWatcher

pytestmark = pytest.mark.django_db


def test_a_url_sealed_under_another_secret_key_is_the_cameras_error(settings):
    camera = Camera.objects.create(name="Moved", url_sealed="gAAAAA-sealed-elsewhere", url_display="rtsp://***@h/x")
    watcher = CameraWatcher(name="setup-test", capacity=2)

    watcher.beat()  # claims the camera, cannot open its URL

    camera.refresh_from_db()
    assert (camera.state, camera.error_code) == ("error", URL_UNREADABLE)
    assert "SECRET_KEY" in camera.error_detail
    assert watcher.watches == {}
    leases.retire_watcher(watcher.name, [])
