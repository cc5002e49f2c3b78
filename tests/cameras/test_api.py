"""Registering cameras through /api/v1/cameras/ (admins only): the stream URL's credentials are stored
sealed and never answered, audited or listed; bad input is a 400 with a reason."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from cameras.models import Camera
from cameras.stream_urls import opened
from tests.cameras.conftest import STREAM_SECRET

pytestmark = pytest.mark.django_db

URL = f"rtsp://viewer:{STREAM_SECRET}@192.0.2.10:554/live?channel=1&token=tok-{STREAM_SECRET}"


def test_an_admin_registers_a_camera_and_its_credentials_never_come_back(admin_api):
    answer = admin_api.post("/api/v1/cameras/", {"name": "Front door", "url": URL, "sample_fps": 5,
                                                 "min_face_px": 60, "liveness": "report"}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["url"] == "rtsp://***@192.0.2.10:554/live?channel=1&token=***"
    assert (body["enabled"], body["sample_fps"], body["min_face_px"], body["liveness"]) == (True, 5.0, 60, "report")
    assert (body["record_unknown"], body["keep_unknown_crops"], body["state"]) == (True, False, "idle")
    camera = Camera.objects.get(pk=body["id"])
    assert opened(camera.url_sealed) == URL  # the watcher gets the real URL back
    answers = [answer.content, admin_api.get("/api/v1/cameras/").content,
               admin_api.get(f"/api/v1/cameras/{camera.pk}/").content]
    stored = [camera.url_sealed, camera.url_display,
              *(str(entry.details) for entry in AuditLog.objects.filter(action="camera.create"))]
    assert not any(STREAM_SECRET.encode() in content for content in answers)
    assert not any(STREAM_SECRET in text for text in stored)


@pytest.mark.parametrize("url, reason", [
    ("ftp://192.0.2.1/x", "must start with"),
    ("concat:/etc/passwd|/etc/hosts", "must start with"),
    ("http:///nohost", "names no host"),
    ("rtsp://192.0.2.1:99999/x", "port"),
    ("http://[::1/x", "host or port"),
    ("/no/such/file.mp4", "No such file"),
    ("", "may not be blank"),
    ("http://192.0.2.1/a b", "without spaces"),
])
def test_a_url_no_watcher_may_open_is_refused_with_a_reason(admin_api, url, reason, settings):
    settings.FACEREC_CAMERA_FILES = True  # files allowed, and still this one is refused
    answer = admin_api.post("/api/v1/cameras/", {"name": "Bad", "url": url}, format="json")

    assert answer.status_code == 400
    assert reason in str(answer.json())
    assert not Camera.objects.exists()


def test_bad_settings_are_400s_with_the_field_at_fault(admin_api):
    admin_api.post("/api/v1/cameras/", {"name": "Hall", "url": URL}, format="json")
    for body, field in (({"name": "Hall", "url": URL}, "name"),
                        ({"name": "X", "url": URL, "sample_fps": 0}, "sample_fps"),
                        ({"name": "X", "url": URL, "liveness": "maybe"}, "liveness"),
                        ({"name": "X", "url": URL, "colour": "red"}, "colour")):
        answer = admin_api.post("/api/v1/cameras/", body, format="json")
        assert answer.status_code == 400, body
        assert field in str(answer.json()), answer.json()


def test_an_admin_changes_and_deletes_a_camera_audited(admin_api):
    pk = admin_api.post("/api/v1/cameras/", {"name": "Hall", "url": URL}, format="json").json()["id"]

    changed = admin_api.patch(f"/api/v1/cameras/{pk}/", {"enabled": False, "keep_unknown_crops": True,
                                                         "url": "http://192.0.2.7/cam.mjpg"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["keep_unknown_crops"]) == (False, True)
    assert changed.json()["url"] == "http://192.0.2.7/cam.mjpg"
    assert admin_api.patch(f"/api/v1/cameras/{pk}/", {"url": "gopher://x"}, format="json").status_code == 400
    assert admin_api.delete(f"/api/v1/cameras/{pk}/").status_code == 204
    assert not Camera.objects.exists()
    assert list(AuditLog.objects.filter(action__startswith="camera.").order_by("id").values_list(
        "action", flat=True)) == ["camera.create", "camera.update", "camera.delete"]


def test_operators_may_not_manage_cameras(operator_api, admin_api):
    pk = admin_api.post("/api/v1/cameras/", {"name": "Hall", "url": URL}, format="json").json()["id"]

    assert operator_api.get("/api/v1/cameras/").status_code == 403
    assert operator_api.post("/api/v1/cameras/", {"name": "Mine", "url": URL}, format="json").status_code == 403
    assert operator_api.get(f"/api/v1/cameras/{pk}/sightings/").status_code == 403
    assert admin_api.get("/api/v1/cameras/999999/").status_code == 404


def test_a_file_path_is_refused_unless_files_are_switched_on(admin_api, settings, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"a file on the server")
    for path in (str(clip), "/etc/passwd", "/no/such/file.mp4"):  # the same answer: nothing to learn
        answer = admin_api.post("/api/v1/cameras/", {"name": "File", "url": path}, format="json")
        assert answer.status_code == 400 and "FACEREC_CAMERA_FILES" in str(answer.json())
    settings.FACEREC_CAMERA_FILES = True
    assert admin_api.post("/api/v1/cameras/", {"name": "File", "url": str(clip)}, format="json").status_code == 201
