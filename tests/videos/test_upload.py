"""Uploading a video: what is not a video is refused at once (415) from its header, a video is stored with its
row, audit entry and job; the size limit holds while the file is received (413), on the API and the page,
without raising the limits of the other routes.

Real files (clips written by PyAV from LFW faces, the broken ones of tests/video_clips.py), the real
decoder and database; the `db` fixture, so the job's on-commit dispatch is captured, not sent.
"""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.urls import reverse

from audit.models import AuditLog
from core.errors import DomainError, UnsupportedMediaType
from tests.api_helpers import api_client, assert_error
from tests.shared_data import lfw_bytes
from tests.users import make_user
from tests.video_clips import Appearance, audio_only, huge_header, lfw_photo, random_bytes, write_clip
from videos.models import Video, video_storage
from videos.services.upload import processing_task_id, upload_video

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
URL = "/api/v1/videos/"


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    """Half a second of a face over a background: a real H.264 MP4 of a few kB."""
    path = tmp_path_factory.mktemp("upload") / "door camera.mp4"
    face = Appearance(lfw_photo("George_W_Bush", 4), 0.0, 0.6, (20, 20), (40, 20), size=96)
    return write_clip(path, [face], duration_s=0.6, size=(320, 180))


@pytest.fixture(scope="module")
def not_videos(tmp_path_factory) -> dict[str, tuple[str, bytes]]:
    folder = tmp_path_factory.mktemp("not-videos")
    return {
        "random bytes": ("random.mp4", random_bytes(folder / "random.mp4").read_bytes()),
        "a JPEG": ("photo.mp4", lfw_bytes()),
        "audio only": ("tone.mp4", audio_only(folder / "tone.mp4").read_bytes()),
        "an empty file": ("empty.mp4", b""),
    }


@pytest.fixture
def uploader():
    return make_user("web-uploader", "operator")


def stored_files() -> set[str]:
    try:
        return set(os.listdir(video_storage.location))
    except FileNotFoundError:
        return set()


def as_upload(path, *, temporary: bool = False):
    data = path.read_bytes()
    if not temporary:
        return SimpleUploadedFile(path.name, data, content_type="video/mp4")
    upload = TemporaryUploadedFile(path.name, "video/mp4", len(data), None)
    upload.write(data)
    upload.seek(0)
    return upload


# --- the service ------------------------------------------------------------------------------


@pytest.mark.parametrize("temporary", [False, True], ids=["held in memory", "spooled to disk"])
def test_a_video_is_stored_with_its_row_and_audit_entry_and_its_job_queued_on_commit(
        small_clip, uploader, temporary, django_capture_on_commit_callbacks):
    before = stored_files()
    uploaded = as_upload(small_clip, temporary=temporary)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        video = upload_video(user=uploader, uploaded_file=uploaded)
    uploaded.close()  # as the request does: a temporary file was moved into the storage, not copied

    video.refresh_from_db()
    assert video.status == Video.Status.PENDING and video.uploaded_by == uploader
    assert video.original_name == "door camera.mp4" and video.size_bytes == small_clip.stat().st_size
    assert (video.codec, video.width, video.height) == ("h264", 320, 180)  # what the probe read
    assert video.duration_s == pytest.approx(0.6, abs=0.05)
    assert video_storage.exists(video.file.name) and stored_files() - before == {os.path.basename(video.file.name)}
    with video.file.open("rb") as stored:
        assert stored.read() == small_clip.read_bytes()
    entry = AuditLog.objects.get(action="video.upload")
    assert entry.details["bytes"] == video.size_bytes and "door" not in str(entry.details)
    assert len(callbacks) == 1  # the job, sent only once the row is committed
    assert processing_task_id(video.pk) == f"process-video-{video.pk}"


@pytest.mark.parametrize("kind", ["random bytes", "a JPEG", "audio only", "an empty file"])
def test_what_is_not_a_video_is_refused_at_once_with_415_and_nothing_is_stored(not_videos, uploader, kind):
    name, data = not_videos[kind]
    before = stored_files()
    with pytest.raises(UnsupportedMediaType) as refused:
        upload_video(user=uploader, uploaded_file=SimpleUploadedFile(name, data))
    assert refused.value.status == 415 and refused.value.code == "unsupported_media_type"
    assert refused.value.message.startswith(f"{name}: ") and refused.value.field == "video"
    assert refused.value.detail["reason"] in ("not_a_video", "no_video_stream")
    assert not Video.objects.exists() and stored_files() == before
    assert not AuditLog.objects.filter(action="video.upload").exists()


def test_a_header_asking_for_an_enormous_picture_is_refused_400(tmp_path, uploader):
    path = huge_header(tmp_path / "huge.mkv")
    with pytest.raises(DomainError) as refused:
        upload_video(user=uploader, uploaded_file=SimpleUploadedFile("huge.mkv", path.read_bytes()))
    assert (refused.value.status, refused.value.code) == (400, "resolution_too_large")
    assert not Video.objects.exists()


# --- through the API and the page -------------------------------------------------------------


def test_the_api_answers_415_in_the_error_shape_for_a_photo(uploader):
    response = api_client(uploader).post(URL, {"video": SimpleUploadedFile("me.jpg", lfw_bytes())},
                                         format="multipart")
    error = assert_error(response, 415, "unsupported_media_type", field="video")
    assert "me.jpg" in error["message"]
    assert not Video.objects.exists()


def test_the_api_refuses_a_missing_file_and_an_unknown_field(uploader, small_clip):
    assert_error(api_client(uploader).post(URL, {}, format="multipart"), 400, "invalid", field="video")
    response = api_client(uploader).post(URL, {"video": as_upload(small_clip), "fps": "10"}, format="multipart")
    assert_error(response, 400, "invalid", field="fps")
    assert not Video.objects.exists()


class RecordingHandler(FileUploadHandler):
    """Placed before Django's own handlers: counts the bytes of each file passed on to be kept."""

    received: dict[str, int] = {}

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received[file_name] = 0

    def receive_data_chunk(self, raw_data, start):
        self.received[self.file_name] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def small_video_limit(settings):
    settings.FACEREC_MAX_VIDEO_BYTES = 256 * 1024
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.RecordingHandler", *settings.FILE_UPLOAD_HANDLERS]
    RecordingHandler.received.clear()
    return settings.FACEREC_MAX_VIDEO_BYTES


def test_an_api_upload_just_over_the_video_limit_is_refused_413_while_it_is_received(small_video_limit, uploader):
    before = stored_files()
    body = SimpleUploadedFile("big.mp4", b"\0" * (small_video_limit + 1))
    error = assert_error(api_client(uploader).post(URL, {"video": body}, format="multipart"), 413, "too_large",
                         field="video")
    assert str(small_video_limit) in error["message"]
    # Refused at the limit: nothing past it was passed on to be kept, nothing stored.
    assert RecordingHandler.received["big.mp4"] <= small_video_limit
    assert not Video.objects.exists() and stored_files() == before


def test_an_api_body_announcing_more_than_the_video_limit_is_refused_before_any_view(small_video_limit):
    body = SimpleUploadedFile("huge.mp4", b"\0" * (small_video_limit + 2 * MIB))
    response = api_client(None).post(URL, {"video": body}, format="multipart")
    assert_error(response, 413, "too_large")  # anonymous: not even authentication ran
    assert RecordingHandler.received == {}


def test_the_video_route_has_its_larger_limits_without_raising_the_photo_routes(settings, uploader, not_videos):
    settings.FACEREC_MAX_UPLOAD_BYTES = 64 * 1024
    settings.FACEREC_MAX_REQUEST_BYTES = 400 * 1024
    settings.FACEREC_MAX_VIDEO_BYTES = 2 * MIB
    admin = make_user("web-admin", "admin")
    padded = SimpleUploadedFile("noise.mp4", not_videos["random bytes"][1] * 3)  # 600 kB
    # Over the site's request limit, within the video route's: it reaches the probe, which refuses it.
    assert_error(api_client(uploader).post(URL, {"video": padded}, format="multipart"), 415,
                 "unsupported_media_type")
    padded.seek(0)
    identify = api_client(admin).post("/api/v1/identify", {"image": padded}, format="multipart")
    assert_error(identify, 413, "too_large")


def test_a_page_upload_over_the_video_limit_answers_413_beside_the_field(small_video_limit, client, uploader):
    client.force_login(uploader)
    before = stored_files()
    body = SimpleUploadedFile("big.mp4", b"\0" * (small_video_limit + 1))
    response = client.post(reverse("videos:list"), {"video": body})
    assert response.status_code == 413
    page = response.content.decode()
    assert "big.mp4: larger than the limit" in page and 'class="error field-error"' in page
    assert RecordingHandler.received["big.mp4"] <= small_video_limit
    assert not Video.objects.exists() and stored_files() == before


def test_a_page_body_over_the_video_route_limit_is_refused_413_with_a_short_page(small_video_limit, client,
                                                                                 uploader):
    client.force_login(uploader)
    body = SimpleUploadedFile("huge.mp4", b"\0" * (small_video_limit + 2 * MIB))
    response = client.post(reverse("videos:list"), {"video": body})
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert "Upload too large" in response.content.decode() and "smaller file" in response.content.decode()
    assert RecordingHandler.received == {}


def test_the_page_refuses_what_is_not_a_video_with_415_beside_the_field(client, uploader, not_videos):
    client.force_login(uploader)
    name, data = not_videos["audio only"]
    response = client.post(reverse("videos:list"), {"video": SimpleUploadedFile(name, data)})
    assert response.status_code == 415
    assert f"{name}: " in response.content.decode()
    assert not Video.objects.exists()


def test_the_page_uploads_a_video_and_follows_it(client, uploader, small_clip, django_capture_on_commit_callbacks):
    client.force_login(uploader)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:list"), {"video": as_upload(small_clip)})
    video = Video.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("videos:detail", args=[video.pk])
    assert video.original_name == "door camera.mp4" and video.uploaded_by == uploader
