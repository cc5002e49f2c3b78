"""Upload limits: a body over FACEREC_MAX_REQUEST_BYTES is refused from its Content-Length, unread; each
file over FACEREC_MAX_UPLOAD_BYTES is cut off while it is received, on the API and on the pages.

Real database and photos; the `db` fixture, so no task is sent.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from identities.models import EnrollmentImage, Identity
from tests import photo_fixtures
from tests.api_helpers import api_client, assert_error
from tests.conftest import REPO_ROOT, database_url
from tests.photo_fixtures import lfw_bytes

pytestmark = pytest.mark.django_db
# Fixtures shared with the other photo tests (pytest finds them in this module's namespace).
admin_user, person, page_client = photo_fixtures.admin_user, photo_fixtures.person, photo_fixtures.page_client

MIB = 1024 * 1024
FILE_LIMIT = 64 * 1024  # small limits, so the tests send little
REQUEST_LIMIT = 400 * 1024


def oversized_jpeg(size: int = 3 * FILE_LIMIT) -> SimpleUploadedFile:
    """A real photo padded past the per-file limit (JPEG decoders stop at the end-of-image marker)."""
    data = lfw_bytes()
    return SimpleUploadedFile("big.jpg", data + b"\0" * (size - len(data)), content_type="image/jpeg")


@pytest.fixture
def limits(settings):
    settings.FACEREC_MAX_UPLOAD_BYTES = FILE_LIMIT
    settings.FACEREC_MAX_REQUEST_BYTES = REQUEST_LIMIT
    # What reaches the handlers after ours is recorded (see RecordingHandler).
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.RecordingHandler", *settings.FILE_UPLOAD_HANDLERS]
    RecordingHandler.received.clear()
    return settings


class RecordingHandler(FileUploadHandler):
    """Placed before Django's own handlers: counts the bytes of each file that were passed on to be kept."""

    received: dict[str, int] = {}

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received[file_name] = 0

    def receive_data_chunk(self, raw_data, start):
        self.received[self.file_name] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


# --- the whole request, from its Content-Length --------------------------------------


def test_an_api_request_over_the_limit_is_refused_413_with_the_json_error_before_any_view(limits, person):
    body = {"photos": [SimpleUploadedFile(f"{n}.jpg", b"\xff" * (FILE_LIMIT - 10)) for n in range(8)]}
    response = api_client(None).post(f"/api/v1/identities/{person.pk}/photos/", body, format="multipart")
    error = assert_error(response, 413, "too_large")  # anonymous: no view, not even authentication, ran
    assert str(REQUEST_LIMIT) in error["message"]
    assert RecordingHandler.received == {}  # nothing of the body was parsed
    assert not EnrollmentImage.objects.exists()


def test_a_page_request_over_the_limit_is_refused_413_with_a_short_page(limits, page_client, person):
    files = [SimpleUploadedFile(f"{n}.jpg", b"\xff" * (FILE_LIMIT - 10)) for n in range(8)]
    response = page_client.post(reverse("identities:add_photos", args=[person.pk]), {"photos": files})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Upload too large" in page and "larger than the limit" in page
    assert RecordingHandler.received == {}
    assert not EnrollmentImage.objects.exists()


def test_a_request_within_the_limit_passes(limits, person, admin_user):
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/",
                                           {"photos": [SimpleUploadedFile("a.jpg", lfw_bytes())]}, format="multipart")
    assert response.status_code == 202, response.content


class UnreadableInput(io.RawIOBase):
    """A connection whose client announced a huge body and sent a few bytes: a read would block."""

    def __init__(self):
        self.reads = 0
        self.released = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        self.reads += 1
        self.released.wait(timeout=30)  # what a socket with nothing more to give does
        return b""

    def readline(self, size=-1):
        return self.read(size)


def test_a_raw_wsgi_request_announcing_a_huge_body_is_answered_413_at_once_without_reading_it(limits):
    from facerec_site.wsgi import application

    stream = UnreadableInput()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/identify", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(50 * 1024 ** 3), "wsgi.input": stream, "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    def call():
        answer["body"] = b"".join(application(environ, start_response))

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(timeout=10)
    stream.released.set()
    assert not caller.is_alive(), "the application waited for the body"
    assert answer["status"].startswith("413")
    assert b'"too_large"' in answer["body"]
    assert stream.reads == 0


def test_a_real_connection_announcing_a_huge_body_gets_413_without_sending_it(limits, live_server):
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(b"POST /identities/new/ HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: 53687091200\r\n\r\n--x\r\n")
        reply = conn.recv(4096)  # a timeout here means the server waited for the 50 GB
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def _settings_value(name: str, **env: str) -> str:
    command = f"from django.conf import settings; print(settings.{name})"
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("FACEREC_MAX_REQUEST_BYTES", "FACEREC_MAX_UPLOAD_BYTES", "DJANGO_SETTINGS_MODULE")}
    environment.update(DATABASE_URL=database_url(settings.DATABASES["default"]),
                       CELERY_BROKER_URL=settings.CELERY_BROKER_URL, **env)
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", command], cwd=REPO_ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_request_limit_defaults_to_a_full_photo_upload_and_is_set_from_the_environment():
    per_file = 3 * MIB
    expected = 20 * per_file + MIB  # FACEREC_MAX_PHOTOS_PER_UPLOAD's default
    assert _settings_value("FACEREC_MAX_REQUEST_BYTES", FACEREC_MAX_UPLOAD_BYTES=str(per_file)) == str(expected)
    assert _settings_value("FACEREC_MAX_REQUEST_BYTES", FACEREC_MAX_REQUEST_BYTES="123456") == "123456"


# --- each file, while it is received ----------------------------------------------------


def test_an_api_upload_is_refused_while_the_oversized_file_is_received(limits, person, admin_user):
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/",
                                           {"photos": [oversized_jpeg()]}, format="multipart")
    assert_error(response, 413, "too_large", field="photos")
    assert RecordingHandler.received["big.jpg"] <= FILE_LIMIT
    assert not EnrollmentImage.objects.exists()


def test_an_api_probe_is_refused_while_the_oversized_file_is_received(limits, admin_user):
    response = api_client(admin_user).post("/api/v1/identify", {"image": oversized_jpeg()}, format="multipart")
    assert_error(response, 413, "too_large", field="image")
    assert RecordingHandler.received["big.jpg"] <= FILE_LIMIT


def test_a_page_upload_keeps_nothing_past_the_limit_and_shows_the_error_beside_the_field(limits, page_client,
                                                                                          person):
    response = page_client.post(reverse("identities:add_photos", args=[person.pk]),
                                {"photos": [oversized_jpeg(), SimpleUploadedFile("ok.jpg", lfw_bytes())]})
    assert response.status_code == 200
    errors = response.context["photos_form"].errors["photos"]
    assert any("big.jpg" in message and "larger than" in message for message in errors)
    assert RecordingHandler.received["big.jpg"] <= FILE_LIMIT  # cut off, not spooled whole
    assert RecordingHandler.received["ok.jpg"] == len(lfw_bytes())  # the next file still arrives
    assert not EnrollmentImage.objects.exists()


def test_the_enroll_page_refuses_an_oversized_photo_beside_its_field_and_creates_no_one(limits, page_client):
    data = {"display_name": "Colin Powell", "given_by": "self", "given_by_name": "Colin Powell",
            "purpose": "building access", "wording_version": "v1", "consent_given": "on",
            "photos": [oversized_jpeg()]}
    response = page_client.post(reverse("identities:create"), data)
    assert response.status_code == 200
    assert "big.jpg" in str(response.context["photos_form"].errors["photos"])
    assert RecordingHandler.received["big.jpg"] <= FILE_LIMIT
    assert not Identity.objects.filter(display_name="Colin Powell").exists()


def test_the_identify_page_refuses_an_oversized_probe_beside_its_field(limits, page_client):
    response = page_client.post(reverse("recognition:identify"), {"image": oversized_jpeg(), "top_k": 5})
    assert response.status_code == 200
    assert "larger than" in str(response.context["form"].errors["image"])
    assert RecordingHandler.received["big.jpg"] <= FILE_LIMIT


def test_the_verify_page_refuses_an_oversized_probe_beside_its_field(limits, page_client):
    data = {"mode": "images", "pair-image_a": oversized_jpeg(),
            "pair-image_b": SimpleUploadedFile("b.jpg", lfw_bytes(n=2))}
    response = page_client.post(reverse("recognition:verify"), data)
    assert response.status_code == 200
    assert "larger than" in str(response.context["pair_form"].errors["image_a"])
    assert RecordingHandler.received["big.jpg"] <= FILE_LIMIT


def test_a_chunked_request_without_content_length_reads_no_body(limits, page_client, person):
    """No Content-Length: the middleware has nothing to compare, and Django reads no body at all."""
    body = encode_multipart(BOUNDARY, {"photos": [oversized_jpeg(size=2 * REQUEST_LIMIT)]})
    response = page_client.generic("POST", reverse("identities:add_photos", args=[person.pk]), body,
                                   content_type=MULTIPART_CONTENT, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 200  # the form says a photo is needed
    assert "photos" in response.context["photos_form"].errors
    assert RecordingHandler.received == {}
    assert not EnrollmentImage.objects.exists()


# --- how many files ----------------------------------------------------------------------


def test_more_photos_than_the_limit_are_refused_on_the_page_and_through_the_api(settings, page_client, person,
                                                                                 admin_user):
    def files(count: int) -> list[SimpleUploadedFile]:
        return [SimpleUploadedFile(f"p{i}.jpg", lfw_bytes(), content_type="image/jpeg") for i in range(count)]

    over = settings.FACEREC_MAX_PHOTOS_PER_UPLOAD + 1
    response = page_client.post(reverse("identities:add_photos", args=[person.pk]), {"photos": files(over)})
    assert response.status_code == 200
    assert f"At most {over - 1} photos per upload." in str(response.context["photos_form"].errors["photos"])
    api = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/", {"photos": files(over)},
                                      format="multipart")
    assert_error(api, 400, "invalid", field="photos")
    assert not EnrollmentImage.objects.exists()
