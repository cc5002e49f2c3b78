"""Cameras in /healthz: each camera's state in the detail, and the site unhealthy only when cameras are
enabled and no watcher is alive to read them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cameras.models import Camera, Watcher

pytestmark = pytest.mark.django_db

REMOTE = "203.0.113.9"


def test_enabled_cameras_without_a_live_watcher_make_the_cameras_check_fail():
    Camera.objects.create(name="Gate", url_sealed="x", url_display="rtsp://***@192.0.2.1/live")
    Watcher.objects.create(name="gone", heartbeat_at=timezone.now() - timedelta(minutes=5))

    detail = Client().get("/healthz").json()["checks"]["cameras"]  # from this machine: the detail

    assert detail["ok"] is False and detail["watchers"] == 0
    assert detail["error"] == "cameras are enabled but no watcher is running"
    assert detail["cameras"][0]["name"] == "Gate" and detail["cameras"][0]["state"] == "idle"
    assert Client().get("/healthz", REMOTE_ADDR=REMOTE).json()["checks"]["cameras"] == {"ok": False}


def test_a_live_watcher_and_its_cameras_states_show_in_the_detail():
    Watcher.objects.create(name="w-live", heartbeat_at=timezone.now())
    now = timezone.now()
    Camera.objects.create(name="Gate", url_sealed="x", url_display="rtsp://***@192.0.2.1/live", state="error",
                          error_code="unreachable", lease_owner="w-live", lease_until=now + timedelta(seconds=10),
                          reconnects=3)
    Camera.objects.create(name="Off", url_sealed="x", url_display="rtsp://192.0.2.2/live", enabled=False)

    detail = Client().get("/healthz").json()["checks"]["cameras"]

    assert detail["ok"] is True and detail["watchers"] == 1
    gate, off = detail["cameras"]
    assert (gate["state"], gate["error_code"], gate["watcher"], gate["reconnects"]) == ("error", "unreachable",
                                                                                        "w-live", 3)
    assert (off["enabled"], off["state"]) == (False, "idle")
