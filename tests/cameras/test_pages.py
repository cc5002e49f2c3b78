"""The camera pages (/cameras/, manage_cameras): registering a camera with the form, its state and latest
sightings in a fragment the page refreshes in place (a script of this site, none inline), crops of
identified people only, and credentials never shown."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from cameras.models import Camera
from cameras.services.sightings import SeenTrack, record_sighting
from enrollment import services as enrollment
from recognition.services import Decision
from tests.cameras.conftest import STREAM_SECRET
from tests.users import PASSWORD, make_user

pytestmark = pytest.mark.django_db

URL = f"rtsp://viewer:{STREAM_SECRET}@192.0.2.10:554/live"
CROP = (np.random.default_rng(1).random((160, 160, 3)) * 255).astype(np.uint8)


@pytest.fixture
def admin_page(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_an_admin_registers_a_camera_with_the_form_and_never_sees_its_password_again(admin_page):
    answer = admin_page.post("/cameras/new/", {"name": "Gate", "url": URL, "enabled": "on", "sample_fps": "5",
                                               "min_face_px": "40", "liveness": "off", "record_unknown": "on"})

    camera = Camera.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/cameras/{camera.pk}/"
    for page in (admin_page.get("/cameras/"), admin_page.get(f"/cameras/{camera.pk}/"),
                 admin_page.get(f"/cameras/{camera.pk}/live")):
        assert page.status_code == 200
        assert STREAM_SECRET.encode() not in page.content
    assert b"rtsp://***@192.0.2.10:554/live" in admin_page.get("/cameras/").content


def test_a_bad_url_is_shown_beside_the_field(admin_page):
    answer = admin_page.post("/cameras/new/", {"name": "Gate", "url": "ftp://192.0.2.1/x", "sample_fps": "5",
                                               "min_face_px": "40", "liveness": "off"})

    assert answer.status_code == 200 and b"must start with one of" in answer.content
    assert not Camera.objects.exists()


def test_the_page_refreshes_its_sightings_in_place_with_a_script_of_this_site(admin_page, admin):
    camera = Camera.objects.create(name="Hall", url_sealed="x", url_display="http://192.0.2.1/x.mjpg")
    person = enrollment.create_identity(display_name="Ada Lovelace", actor=admin)
    now = timezone.now()
    seen = SeenTrack(first_seen=now, last_seen=now, frames_seen=5, crop=CROP)
    known = record_sighting(camera_id=camera.pk, decision=Decision(person.pk, 0.9, "score", "", None), seen=seen,
                            threshold=0.5)
    stranger = record_sighting(camera_id=camera.pk, decision=Decision(None, 0.1, "score", "below_threshold", None),
                               seen=seen, threshold=0.5)

    page = admin_page.get(f"/cameras/{camera.pk}/").content.decode()
    assert 'id="camera-live"' in page and f'data-live-url="/cameras/{camera.pk}/live"' in page
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all("src=" in attrs for attrs in scripts)  # no inline script (the CSP forbids them)
    assert any("cameras/live.js" in attrs for attrs in scripts) and finders.find("cameras/live.js")
    fragment = admin_page.get(f"/cameras/{camera.pk}/live")
    assert fragment["Cache-Control"] == "no-store"
    body = fragment.content.decode()
    assert "Ada Lovelace" in body and f"/cameras/{camera.pk}/sightings/{known.pk}/crop" in body
    assert "below_threshold" in body and f"sightings/{stranger.pk}/crop" not in body  # no crop kept for them
    crop = admin_page.get(f"/cameras/{camera.pk}/sightings/{known.pk}/crop")
    assert crop.status_code == 200 and crop["Content-Type"] == "image/png"
    assert admin_page.get(f"/cameras/{camera.pk}/sightings/{stranger.pk}/crop").status_code == 404
    assert "default-src 'self'" in fragment.get("Content-Security-Policy", settings.FACEREC_CONTENT_SECURITY_POLICY)


def test_only_camera_managers_see_the_pages(admin):
    camera = Camera.objects.create(name="Hall", url_sealed="x", url_display="http://192.0.2.1/x.mjpg")
    reviewer = make_user("cam-reviewer", "reviewer")
    client = Client()
    client.login(username=reviewer.username, password=PASSWORD)
    for url in ("/cameras/", f"/cameras/{camera.pk}/", f"/cameras/{camera.pk}/live"):
        assert client.get(url).status_code in (302, 403)
