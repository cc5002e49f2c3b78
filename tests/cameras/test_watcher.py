"""The real watcher (`manage.py watch_cameras`, its own process) reading a real stream served on 127.0.0.1
(tests/cameras/streams.py: real LFW faces at known wall times): the sightings, their identities and times,
the cooldown, reconnection, a URL that is not a stream, and credentials that never show."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from cameras.models import Camera, Sighting
from cameras.services.cameras import update_camera
from tests.cameras.conftest import STREAM_SECRET, camera_for, wait_until
from tests.cameras.streams import Programme
from tests.video_clips import Appearance, lfw_photo
from tests.videos.conftest import CLIP_PHOTO, STRANGER
from webhooks.models import Event, Subscription

pytestmark = [pytest.mark.watcher, pytest.mark.django_db(transaction=True)]

NOT_YET = 1e12  # a programme's start in the far future: the plain background until the test starts it


def metric_samples() -> dict[tuple[str, str], float]:
    body = Client().get("/metrics").content.decode()  # the test client calls from 127.0.0.1
    return {(s.name, s.labels.get("outcome", "")): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def connected(camera: Camera) -> bool:
    camera.refresh_from_db()
    return camera.state == Camera.State.CONNECTED


def test_a_person_in_view_is_one_sighting_identified_at_the_time_they_came(enrolled, stream_server, start_watcher,
                                                                             admin_client):
    bush, powell = enrolled.people["George_W_Bush"], enrolled.people["Colin_Powell"]
    programme = Programme(t0=NOT_YET, appearances=[
        # Bush walks in and stays 3 s; a stranger; Bush again (within the cooldown); Powell.
        Appearance(lfw_photo("George_W_Bush", CLIP_PHOTO), 1.0, 4.0, (60, 90), (300, 100)),
        Appearance(lfw_photo(STRANGER, 1), 5.0, 7.0, (420, 120), (300, 80)),
        Appearance(lfw_photo("George_W_Bush", 5), 8.0, 10.0, (200, 100), (260, 100)),
        Appearance(lfw_photo("Colin_Powell", CLIP_PHOTO), 11.0, 13.0, (400, 100), (380, 100)),
    ])
    stream_server.programmes["/door.mjpg"] = programme
    camera = camera_for(stream_server, "/door.mjpg")
    watcher = start_watcher("w1")
    wait_until(lambda: connected(camera), timeout_s=90, what="the camera is read", watchers=[watcher])
    assert not Sighting.objects.exists()  # the empty scene: nobody

    before = metric_samples()
    t0 = programme.t0 = time.time()
    wait_until(lambda: Sighting.objects.filter(identity=powell).exists(), timeout_s=30,
               what="Powell's sighting", watchers=[watcher])
    time.sleep(1.5)  # the last track closes and moves its sighting's last_seen

    rows = list(Sighting.objects.order_by("first_seen"))
    assert [(s.identity_id, s.reason) for s in rows] == [(bush.pk, ""), (None, "below_threshold"), (powell.pk, "")]
    bush_row, stranger_row, powell_row = rows
    # Times: when they came and went (the stream's frames arrive at wall time; sampled at 5 fps).
    assert abs(bush_row.first_seen.timestamp() - (t0 + 1.0)) < 0.6
    assert abs(stranger_row.first_seen.timestamp() - (t0 + 5.0)) < 0.6
    assert abs(powell_row.first_seen.timestamp() - (t0 + 11.0)) < 0.6
    # Bush's second visit, within the cooldown, extended his sighting: one row, two tracks.
    assert bush_row.tracks == 2 and abs(bush_row.last_seen.timestamp() - (t0 + 10.0)) < 0.8
    # A person standing in view for 3 s at 5 fps is one sighting of ~15 frames, decided within a second or so.
    assert bush_row.frames_seen >= 15
    assert bush_row.created_at.timestamp() - (t0 + 1.0) < 3.0  # the bench measures it; this only bounds it
    assert bush_row.crop and powell_row.crop and not stranger_row.crop  # unknown people's crops are not kept
    assert 0.5 < bush_row.score and bush_row.threshold is not None

    # Counted in the metrics, from the watcher process (prometheus-client's multiprocess files).
    after = metric_samples()
    moved = {outcome: after.get(("facerec_camera_sightings_total", outcome), 0)
             - before.get(("facerec_camera_sightings_total", outcome), 0)
             for outcome in ("identified", "unknown", "extended")}
    assert moved == {"identified": 2, "unknown": 1, "extended": 1}
    assert after[("facerec_camera_frames_total", "")] - before.get(("facerec_camera_frames_total", ""), 0) >= 50

    camera.refresh_from_db()
    assert camera.lease_owner == "w1" and camera.fps and 2.5 <= camera.fps <= 5.5
    health = Client().get("/healthz").json()["checks"]["cameras"]
    assert health["watchers"] == 1
    assert health["cameras"][0]["state"] == "connected" and health["cameras"][0]["watcher"] == "w1"
    answers = [admin_client.get(f"/api/v1/cameras/{camera.pk}/").content,
               admin_client.get(f"/api/v1/cameras/{camera.pk}/sightings/").content,
               Client().get("/healthz").content]
    assert not any(STREAM_SECRET.encode() in body for body in answers)
    watcher.stop()
    assert watcher.proc.returncode == 0
    assert STREAM_SECRET not in watcher.log() and "tok-" not in watcher.log()
    camera.refresh_from_db()
    assert (camera.lease_owner, camera.state) == ("", "idle")  # a clean stop lets the camera go


def test_a_dropped_stream_is_reconnected_and_a_url_that_is_no_stream_is_a_clear_error(
        enrolled, stream_server, start_watcher):
    powell = enrolled.people["Colin_Powell"]
    programme = Programme(t0=NOT_YET, appearances=[
        Appearance(lfw_photo("Colin_Powell", CLIP_PHOTO), 0.5, 3.0, (200, 100), (240, 100))])
    stream_server.programmes["/yard.mjpg"] = programme
    stream_server.pages["/index.html"] = b"<html><body>camera admin page</body></html>"
    yard = camera_for(stream_server, "/yard.mjpg")
    page = camera_for(stream_server, "/index.html")
    watcher = start_watcher("w2")
    wait_until(lambda: connected(yard), timeout_s=90, what="the yard camera is read", watchers=[watcher])
    page.refresh_from_db()
    wait_until(lambda: Camera.objects.get(pk=page.pk).error_code == "not_a_stream", timeout_s=10,
               what="the page camera's error", watchers=[watcher])

    stream_server.stop()  # the camera goes off the network
    wait_until(lambda: Camera.objects.get(pk=yard.pk).state == Camera.State.ERROR, timeout_s=15,
               what="the yard camera's error", watchers=[watcher])
    stream_server.start()  # ...and comes back on the same address
    wait_until(lambda: connected(yard), timeout_s=15, what="the yard camera read again", watchers=[watcher])
    programme.t0 = time.time()
    wait_until(lambda: Sighting.objects.filter(camera=yard, identity=powell).exists(), timeout_s=15,
               what="Powell seen after the reconnection", watchers=[watcher])

    yard.refresh_from_db()
    page.refresh_from_db()
    assert yard.reconnects >= 1 and yard.error_code == ""
    assert (page.state, page.error_code) == ("error", "not_a_stream")
    assert "not with a video stream" in page.error_detail and STREAM_SECRET not in page.error_detail
    # No crash loop: the watcher lives on, and the page is asked again with a growing backoff (1, 2, 2 s here).
    assert watcher.proc.poll() is None
    attempts = stream_server.requests_for("/index.html").connections
    time.sleep(4)
    assert stream_server.requests_for("/index.html").connections - attempts <= 3

    update_camera(camera=yard, enabled=False)  # an admin turns it off: its watcher lets it go
    wait_until(lambda: Camera.objects.get(pk=yard.pk).lease_owner == "" and
               stream_server.requests_for("/yard.mjpg").active == 0, timeout_s=10,
               what="the disabled camera let go", watchers=[watcher])
    assert Camera.objects.get(pk=yard.pk).state == "idle"
    assert STREAM_SECRET not in watcher.log()


def test_a_camera_enforcing_liveness_reports_a_photo_held_up_as_a_failed_check(enrolled, stream_server,
                                                                                 start_watcher):
    """The clip's faces are photos pasted on a picture: the liveness model scores them as attacks (as in
    tests/videos), so under `enforce` the person is not identified and the event says why."""
    Subscription.objects.create(url="https://hooks.example.com/x", secret_encrypted="x",
                                event_types=["camera.sighting", "camera.liveness_failed"])
    programme = Programme(t0=NOT_YET, appearances=[
        Appearance(lfw_photo("George_W_Bush", CLIP_PHOTO), 0.5, 2.5, (200, 100), (240, 100))])
    stream_server.programmes["/desk.mjpg"] = programme
    camera = camera_for(stream_server, "/desk.mjpg", liveness="enforce")
    watcher = start_watcher("w3")
    wait_until(lambda: connected(camera), timeout_s=90, what="the camera is read", watchers=[watcher])

    programme.t0 = time.time()
    sighting = wait_until(lambda: Sighting.objects.filter(camera=camera).first(), timeout_s=15,
                          what="the sighting", watchers=[watcher])

    assert (sighting.identity_id, sighting.reason, bool(sighting.crop)) == (None, "liveness_failed", False)
    assert sighting.liveness["is_live"] is False
    event = Event.objects.get()
    assert event.type == "camera.liveness_failed" and event.payload["sighting_id"] == sighting.pk
    assert event.payload["liveness_score"] == sighting.liveness["score"]
