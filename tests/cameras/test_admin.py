"""The admin browses cameras, watchers and sightings, never edits them, and shows neither the sealed
stream URL (nor its credentials) nor a face crop."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from cameras.models import Camera, Sighting, Watcher
from cameras.services.cameras import create_camera

pytestmark = pytest.mark.django_db

SECRET = "camera-secret-9"


def test_staff_browse_cameras_watchers_and_sightings_without_credentials_or_crops(admin_client, admin):
    camera = create_camera(url=f"rtsp://viewer:{SECRET}@192.0.2.1/live", name="Gate", actor=admin)
    watcher = Watcher.objects.create(name="watcher-1@host", heartbeat_at=timezone.now())
    now = timezone.now()
    sighting = Sighting.objects.create(camera=camera, reason="below_threshold", first_seen=now, last_seen=now)

    pages = [reverse("admin:cameras_camera_changelist"), reverse("admin:cameras_camera_change", args=[camera.pk]),
             reverse("admin:cameras_watcher_changelist"), reverse("admin:cameras_watcher_change", args=[watcher.pk]),
             reverse("admin:cameras_sighting_changelist"),
             reverse("admin:cameras_sighting_change", args=[sighting.pk])]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert SECRET not in body and camera.url_sealed not in body and 'name="crop"' not in body
    assert "rtsp://***@192.0.2.1/live" in admin_client.get(pages[0]).content.decode()


def test_the_admin_cannot_add_change_or_delete_cameras(admin_client, admin):
    camera = create_camera(url="rtsp://192.0.2.1/live", name="Gate", actor=admin)

    assert admin_client.get(reverse("admin:cameras_camera_add")).status_code == 403
    assert admin_client.post(reverse("admin:cameras_camera_delete", args=[camera.pk]), {"post": "yes"}).status_code == 403
    assert admin_client.post(reverse("admin:cameras_camera_change", args=[camera.pk]),
                             {"name": "Other"}).status_code == 403
    assert Camera.objects.get().name == "Gate"
