"""The videos API: who may upload and read which video, the detail (state, progress, reason, summary), the
paginated tracks, the exports and the crops; then one clip through the real worker, read back through the API.

Rows are written directly where only reading them is tested; the real worker decides the tracks where a
result is needed (tests/videos/conftest.py enrolls real LFW people and writes the clips).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from audit.models import AuditLog
from identities import services as identities
from tests.api_helpers import api_client, assert_error
from tests.recognition.conftest import display_name
from tests.users import make_user
from tests.videos.conftest import SAMPLE_PERIOD_S, STRANGER, wait_for_video
from tests.videos.test_exports import parse_webvtt
from videos.models import Video, VideoTrack

pytestmark = pytest.mark.django_db

URL = "/api/v1/videos/"


def png_bytes(colour=(200, 150, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def done_video(user, **fields) -> Video:
    values = {"original_name": "lobby.mp4", "status": Video.Status.DONE, "duration_s": 4.0, "sample_fps": 5.0,
              "progress": 1.0, "frames_decoded": 20, "faces_found": 17, "model_version": "facenet-test",
              "threshold": 0.45, "codec": "h264", "container": "mov,mp4", "width": 640, "height": 360, **fields}
    return Video.objects.create(uploaded_by=user, **values)


def add_track(video: Video, number: int, *, identity=None, first=0.4, last=1.8, crop: bool = False) -> VideoTrack:
    track = VideoTrack(video=video, number=number, identity=identity, score=0.8 if identity else 0.2,
                       decided_by="score", reason="" if identity else "below_threshold", first_seen_s=first,
                       last_seen_s=last, frames_seen=round((last - first) * 5) + 1, best_time_s=first,
                       best_box=[10.0, 20.0, 90.0, 120.0])
    if crop:
        track.crop.save("crop", ContentFile(png_bytes()), save=False)
    track.save()
    return track


@pytest.fixture
def enroller():
    """An operator who enrolled Ada: a reader of her record and her faces."""
    return make_user("ada-enroller", "operator")


@pytest.fixture
def ada(enroller):
    return identities.create_identity(display_name="Ada Lovelace", actor=enroller)


@pytest.fixture
def uploader():
    return make_user("web-uploader", "operator")


@pytest.fixture
def video(uploader, ada) -> Video:
    """Ada (with a crop), then a stranger (never a crop), then Ada again."""
    video = done_video(uploader)
    add_track(video, 1, identity=ada, first=0.4, last=1.8, crop=True)
    add_track(video, 2, first=1.0, last=3.6)
    add_track(video, 3, identity=ada, first=3.8, last=3.8)
    return video


# --- who may do what ---------------------------------------------------------------------------


def test_without_the_identify_capability_every_video_endpoint_is_403(video):
    reviewer = api_client(make_user("web-reviewer", "reviewer"))
    for url in (URL, f"{URL}{video.pk}/", f"{URL}{video.pk}/tracks/", f"{URL}{video.pk}/export.csv",
                f"{URL}{video.pk}/tracks/1/crop/"):
        assert_error(reviewer.get(url), 403, "permission_denied")
    upload = reviewer.post(URL, {"video": SimpleUploadedFile("a.mp4", b"x")}, format="multipart")
    assert_error(upload, 403, "permission_denied")
    assert_error(api_client(None).get(URL), 401, "not_authenticated")


def test_another_users_video_is_404_everywhere_and_not_listed(video, enroller):
    other = api_client(enroller)
    for url in (f"{URL}{video.pk}/", f"{URL}{video.pk}/tracks/", f"{URL}{video.pk}/export.json",
                f"{URL}{video.pk}/export.csv", f"{URL}{video.pk}/export.vtt", f"{URL}{video.pk}/tracks/1/crop/"):
        assert_error(other.get(url), 404, "not_found")
    assert other.get(URL).json()["count"] == 0
    # Ids past any column's range are missing, not a 500.
    assert_error(other.get(f"{URL}99999999999999999/"), 404, "not_found")
    assert_error(api_client(make_user("web-admin", "admin")).get(f"{URL}{video.pk}/tracks/99999999999999999/crop/"),
                 404, "not_found")


def test_holders_of_view_identities_see_every_video(video):
    admin = api_client(make_user("web-admin", "admin"))
    listed = admin.get(URL).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == video.pk
    assert admin.get(f"{URL}{video.pk}/").status_code == 200


def test_a_crop_is_sent_only_to_readers_of_that_person(video, uploader, ada):
    # The uploader sees the video, not Ada's record: no crop URL, and the crop is a 404 like a missing one.
    tracks = api_client(uploader).get(f"{URL}{video.pk}/tracks/").json()["results"]
    assert [t["crop_url"] for t in tracks] == [None, None, None]
    assert_error(api_client(uploader).get(f"{URL}{video.pk}/tracks/1/crop/"), 404, "not_found")

    admin = api_client(make_user("web-admin", "admin"))  # reads everyone, sees faces
    tracks = admin.get(f"{URL}{video.pk}/tracks/").json()["results"]
    assert tracks[0]["crop_url"].endswith(f"/api/v1/videos/{video.pk}/tracks/1/crop/")
    assert tracks[1]["crop_url"] is None and tracks[2]["crop_url"] is None  # unknown; no crop kept
    response = admin.get(f"{URL}{video.pk}/tracks/1/crop/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content if response.streaming else [response.content]) == png_bytes()
    assert_error(admin.get(f"{URL}{video.pk}/tracks/2/crop/"), 404, "not_found")


def test_a_reader_without_face_rights_gets_no_crop(video, ada):
    # view_identities reads Ada's record, but faces need view_faces (or being her enroller).
    reader = make_user("web-records", None)
    reader.user_permissions.add(*Permission.objects.filter(content_type__app_label="accounts",
                                                           codename__in=["identify", "view_identities"]))
    client = api_client(reader)
    assert client.get(f"{URL}{video.pk}/").status_code == 200
    assert_error(client.get(f"{URL}{video.pk}/tracks/1/crop/"), 404, "not_found")


# --- what they say ---------------------------------------------------------------------------


def test_the_detail_shows_state_progress_and_the_summary(video, uploader):
    body = api_client(uploader).get(f"{URL}{video.pk}/").json()
    assert body["status"] == "done" and body["original_name"] == "lobby.mp4"
    assert body["progress"] == {"percent": 100.0, "frames_decoded": 20, "faces_found": 17}
    assert body["summary"] == {"duration_s": 4.0, "sample_fps": 5.0, "frames_decoded": 20, "faces_found": 17,
                               "tracks": 3, "people_identified": 1, "model_version": "facenet-test",
                               "threshold": 0.45}
    assert body["error_code"] == "" and body["tracks_url"].endswith(f"/api/v1/videos/{video.pk}/tracks/")
    assert set(body["exports"]) == {"json", "csv", "vtt"}


def test_a_running_video_shows_its_progress_and_a_failed_one_its_reason(uploader):
    client = api_client(uploader)
    running = done_video(uploader, status=Video.Status.PROCESSING, progress=0.375, frames_decoded=8, faces_found=5)
    assert client.get(f"{URL}{running.pk}/").json()["progress"] == {"percent": 37.5, "frames_decoded": 8,
                                                                   "faces_found": 5}
    failed = done_video(uploader, status=Video.Status.FAILED, progress=0.5, error_code="truncated",
                        error_detail="The stream ends at 2.1 s of the 4.2 s announced.")
    body = client.get(f"{URL}{failed.pk}/").json()
    assert body["status"] == "failed" and body["error_code"] == "truncated" and "2.1 s" in body["error_detail"]


def test_the_tracks_are_paginated_with_timecodes_labels_and_reasons(video, uploader, ada):
    client = api_client(uploader)
    first = client.get(f"{URL}{video.pk}/tracks/?page_size=2").json()
    assert first["count"] == 3 and first["next"] and [t["number"] for t in first["results"]] == [1, 2]
    ada_track, stranger = first["results"]
    assert (ada_track["identity_id"], ada_track["label"], ada_track["reason"]) == (ada.pk, "Ada Lovelace", "")
    assert (ada_track["first_seen"], ada_track["last_seen"]) == ("00:00:00.400", "00:00:01.800")
    assert ada_track["first_seen_s"] == 0.4 and ada_track["threshold"] == 0.45 and ada_track["has_crop"] is True
    assert ada_track["best_box"] == [10.0, 20.0, 90.0, 120.0] and ada_track["frames_seen"] == 8
    assert (stranger["identity_id"], stranger["label"], stranger["reason"]) == (None, "unknown", "below_threshold")
    assert stranger["has_crop"] is False
    second = client.get(first["next"]).json()
    assert [t["number"] for t in second["results"]] == [3]


def test_the_exports_match_the_tracks(video, uploader):
    client = api_client(uploader)
    tracks = client.get(f"{URL}{video.pk}/tracks/").json()["results"]

    response = client.get(f"{URL}{video.pk}/export.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert f'filename="video-{video.pk}.json"' in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["video"]["tracks"] == 3 and document["video"]["people_identified"] == 1
    assert document["tracks"] == [{k: v for k, v in t.items() if k != "crop_url"} for t in tracks]

    response = client.get(f"{URL}{video.pk}/export.csv", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["track"], r["label"], r["first_seen"], r["last_seen"]) for r in rows] == [
        (str(t["number"]), t["label"], t["first_seen"], t["last_seen"]) for t in tracks]

    response = client.get(f"{URL}{video.pk}/export.vtt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/vtt")
    cues = parse_webvtt(response.content.decode())
    assert [(c["id"], c["start"], c["text"]) for c in cues] == [
        (f"t-{t['number']}", t["first_seen"], f"{t['label']} (track {t['number']})") for t in tracks]
    assert cues[0]["end"] == "00:00:02.000" and cues[2]["end"] == "00:00:04.000"  # one sample; the video's end


# --- through the real worker -------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_uploaded_clip_is_identified_by_the_worker_and_read_back_through_the_api(celery_worker, enrolled,
                                                                                   clips):
    """The enroller uploads the walk clip: Bush (enrolled) crosses the scene, then a stranger."""
    client, clip = api_client(enrolled.owner), clips["walk"]
    with clip.path.open("rb") as fh:
        response = client.post(URL, {"video": fh}, format="multipart")
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["status"] == "pending" and created["original_name"] == "walk.mp4"
    assert AuditLog.objects.filter(action="video.upload", target_id=str(created["id"])).exists()

    video = wait_for_video(created["id"])
    assert video.status == "done", (video.error_code, video.error_detail)
    body = client.get(created["url"]).json()
    assert body["progress"]["percent"] == 100.0 and body["progress"]["frames_decoded"] >= 20
    assert body["summary"]["tracks"] == 2 and body["summary"]["people_identified"] == 1
    assert body["summary"]["duration_s"] == pytest.approx(clip.duration_s, abs=0.05)

    bush, stranger = client.get(body["tracks_url"]).json()["results"]
    bush_id = enrolled.people["George_W_Bush"].pk
    assert (bush["identity_id"], bush["label"]) == (bush_id, display_name("George_W_Bush"))
    assert (stranger["identity_id"], stranger["label"]) == (None, "unknown")
    for track, shown in ((bush, clip.shows["George_W_Bush"]), (stranger, clip.shows[STRANGER])):
        assert abs(track["first_seen_s"] - shown.start_s) <= SAMPLE_PERIOD_S + 0.01
        assert abs(track["last_seen_s"] - shown.end_s) <= SAMPLE_PERIOD_S + 0.01
    # The enroller reads Bush: his crop; the stranger's was never kept.
    assert bush["has_crop"] and bush["crop_url"]
    crop = client.get(bush["crop_url"])
    assert crop.status_code == 200 and crop["Content-Type"].startswith("image/")
    assert crop["Cache-Control"] == "private, no-store"
    assert stranger["has_crop"] is False and stranger["crop_url"] is None

    vtt = parse_webvtt(client.get(body["exports"]["vtt"]).content.decode())
    assert [c["text"] for c in vtt] == [f"{display_name('George_W_Bush')} (track 1)", "unknown (track 2)"]
    # Another operator neither sees the video nor reaches the crop.
    other = api_client(make_user("web-other", "operator"))
    assert_error(other.get(created["url"]), 404, "not_found")
    assert_error(other.get(bush["crop_url"]), 404, "not_found")
