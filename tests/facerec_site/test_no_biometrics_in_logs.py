"""No photo bytes, embedding values or encrypted photo tokens in any log, of the web process or the worker.

A real photo is enrolled through the API, processed by the real worker, approved, then
identified and verified with; meanwhile this process runs with DEBUG on (so Django logs
every SQL query) and every logger at DEBUG (caplog), and the worker's log file is read
afterwards. Neither may hold a 64-byte run of
the photo (raw, escaped, hex or base64), three consecutive values of its stored
embedding, or any 64 characters of the Fernet token stored on disk.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from identities.models import EnrollmentImage, private_storage
from recognition.models import FaceEmbedding
from tests.api_helpers import api_client
from tests.conftest import _worker_idle
from tests.shared_data import LFW_IMAGES
from tests.tokens import bearer_client, token_for
from tests.users import make_user

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RUN = 64  # bytes of photo (or characters of token) that must not appear together
PASSWORD, WRONG_PASSWORD = "log-test-Pa55word-x7q!", "log-test-Wr0ng-Pa55word-z9!"
APP_LOGGERS = ("", "django", "django.request", "django.db.backends", "celery", "kombu", "identities", "recognition",
               "facerec_site", "accounts", "evaluation", "reenrollment", "PIL")
_FLOAT = re.compile(r"-?\d+\.\d{4,}(?:[eE][-+]?\d+)?")
_STANDARD_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def lfw_path(person: str, n: int) -> Path:
    return LFW_IMAGES / person / f"{person}_{n:04d}.jpg"


def upload(person: str, n: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{person}_{n:04d}.jpg", lfw_path(person, n).read_bytes(), content_type="image/jpeg")


def windows(text, size: int = RUN) -> set:
    return {text[i:i + size] for i in range(len(text) - size + 1)}


class Secrets:
    """What must not be logged, indexed by fixed-size windows so a long log is scanned once."""

    def __init__(self, photo: bytes, token: bytes, vector: np.ndarray):
        self.photo_bytes = windows(photo)
        escaped = repr(photo)[2:-1]  # b'...' as Python prints bytes
        encoded = [photo.hex(), escaped]
        for offset in range(3):  # base64 of any part of the photo lines up with one of these
            encoded += [base64.b64encode(photo[offset:]).decode(), base64.urlsafe_b64encode(photo[offset:]).decode()]
        self.photo_text = set().union(*(windows(text) for text in encoded))
        self.token_text = windows(token.decode("ascii"))
        self.vector = vector

    def found_in(self, text: str) -> list[str]:
        found = []
        raw = text.encode("utf-8", "surrogateescape")
        if any(raw[i:i + RUN] in self.photo_bytes for i in range(len(raw) - RUN + 1)):
            found.append("photo bytes")
        for what, needles in (("photo bytes (encoded)", self.photo_text), ("the Fernet token", self.token_text)):
            if any(text[i:i + RUN] in needles for i in range(len(text) - RUN + 1)):
                found.append(what)
        if self._has_embedding_run(text):
            found.append("embedding values")
        return found

    def _has_embedding_run(self, text: str, tolerance: float = 1e-3) -> bool:
        """Three consecutive numbers with 4+ decimals that are three consecutive embedding values."""
        numbers = np.array([float(m) for m in _FLOAT.findall(text)])
        if len(numbers) < 3:
            return False
        v = self.vector
        close = np.abs(numbers[:, None] - v[None, :]) < tolerance  # (numbers, dims)
        return bool((close[:-2, :-2] & close[1:-1, 1:-1] & close[2:, 2:]).any())


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write: the message, the traceback, the stack, and any `extra` fields."""
    text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    extra = {key: value for key, value in vars(record).items() if key not in _STANDARD_RECORD_FIELDS}
    return f"{text}\n{extra!r}" if extra else text


def poll(client, url: str, until, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if until(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{url} never satisfied the condition: {body}")


def enroll(client, name: str, person: str, photos: tuple[int, ...]) -> list[int]:
    identity = client.post("/api/v1/identities/", {"display_name": name}, format="json").json()
    consent = client.post(f"/api/v1/identities/{identity['id']}/consents/",
                          {"given_by_name": name, "purpose": "access", "wording_version": "v1"}, format="json")
    assert consent.status_code == 201
    response = client.post(f"/api/v1/identities/{identity['id']}/photos/",
                           {"photos": [upload(person, n) for n in photos]}, format="multipart")
    assert response.status_code == 202, response.content
    ids = []
    for photo in response.json()["photos"]:
        job = poll(client, photo["job_url"], lambda body: body["status"] in ("SUCCESS", "FAILURE"))
        assert job["result"] == "awaiting_review", job
        ids.append(photo["id"])
    return identity["id"], ids


@pytest.fixture
def worker_log(celery_worker):
    """The worker's log file (tests/conftest.py sends its stdout and stderr there) and where this test's
    part of it starts."""
    path = Path(os.readlink(f"/proc/{celery_worker.pid}/fd/1"))
    return path, path.stat().st_size


def test_no_photo_bytes_embedding_or_token_is_logged_by_the_web_process_or_the_worker(
        caplog, worker_log, celery_app_for_tests, settings):
    settings.FACEREC_RETRAIN_DELAY_S = 0  # the retrain runs (and logs) while this test watches
    settings.DEBUG = True  # SQL queries, with their parameters, are logged too
    for name in APP_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    client = api_client(make_user("log-admin", "admin", password=PASSWORD))
    # Secrets in use meanwhile: an API token (identify goes through it), a sign-in with the right
    # password and one with a wrong one, the site's SECRET_KEY and the photo keys.
    kiosk_token = token_for(make_user("log-kiosk", "api_client"))
    signed_in = Client()
    assert signed_in.post(reverse("login"), {"username": "log-admin", "password": PASSWORD}).status_code == 302
    Client().post(reverse("login"), {"username": "log-admin", "password": WRONG_PASSWORD})

    george, george_photos = enroll(client, "George W Bush", "George_W_Bush", (1, 2))
    _colin, colin_photos = enroll(client, "Colin Powell", "Colin_Powell", (1, 2))
    approved = client.post("/api/v1/photos/approve/", {"ids": george_photos + colin_photos}, format="json")
    assert approved.status_code == 200, approved.content

    identified = bearer_client(kiosk_token).post("/api/v1/identify", {"image": upload("George_W_Bush", 1)},
                                                  format="multipart")
    assert identified.status_code == 200, identified.content
    assert identified.json()["faces"][0]["label"] == "George W Bush"
    pair = client.post("/api/v1/verify", {"image_a": upload("George_W_Bush", 1), "image_b": upload("George_W_Bush", 2)},
                       format="multipart")
    assert pair.status_code == 200 and pair.json()["match"], pair.content
    claim = client.post("/api/v1/verify", {"image": upload("George_W_Bush", 1), "identity_id": george},
                        format="multipart")
    assert claim.status_code == 200 and claim.json()["match"], claim.content

    deadline = time.monotonic() + 120  # the retrain and any other follow-up work, logged by the worker
    while time.monotonic() < deadline and not _worker_idle(celery_app_for_tests):
        time.sleep(0.5)

    photo = EnrollmentImage.objects.get(pk=george_photos[0])
    token = Path(private_storage.path(photo.file.name)).read_bytes()
    assert token.startswith(b"gAAAAA")
    vector = np.asarray(FaceEmbedding.objects.get(image=photo).vector, dtype=np.float64)
    secrets = Secrets(lfw_path("George_W_Bush", 1).read_bytes(), token, vector)

    assert any(record.name == "django.db.backends" for record in caplog.records), "the capture is not working"
    leaks = [(record.name, found) for record in caplog.records if (found := secrets.found_in(record_text(record)))]
    assert leaks == []

    path, start = worker_log
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        fh.seek(start)
        worker_output = fh.read()
    assert "process_enrollment_image" in worker_output  # this test's tasks are in it
    leaking_lines = [line[:200] for line in worker_output.splitlines() if secrets.found_in(line)]
    assert leaking_lines == []
    assert secrets.found_in(worker_output) == []  # runs spread over lines too

    plain = [kiosk_token, kiosk_token.split("_")[-1], PASSWORD, WRONG_PASSWORD, settings.SECRET_KEY,
             *[str(key) for key in settings.FACEREC_PHOTO_KEYS]]
    logged = "\n".join(record_text(record) for record in caplog.records) + worker_output
    assert [secret[:6] + "..." for secret in plain if secret in logged] == []


def test_the_leak_detector_finds_what_it_looks_for():
    photo = lfw_path("George_W_Bush", 1).read_bytes()
    vector = np.linspace(-0.1, 0.1, 512)
    token = Fernet(Fernet.generate_key()).encrypt(photo)
    secrets = Secrets(photo, token, vector)
    assert secrets.found_in("nothing to see: succeeded in 0.0412s, similarity 0.9876") == []
    assert secrets.found_in(f"probe {photo[1000:1100]!r}") == ["photo bytes (encoded)"]
    assert secrets.found_in(f"probe {base64.b64encode(photo[1001:1200]).decode()}") == ["photo bytes (encoded)"]
    assert secrets.found_in(photo[2000:2100].decode("latin-1").encode("latin-1").decode("utf-8", "surrogateescape")) \
        == ["photo bytes"]
    assert secrets.found_in(f"stored {token[10:90].decode()}") == ["the Fernet token"]
    assert secrets.found_in(f"vector {np.array2string(vector[100:106], precision=6)}") == ["embedding values"]


def test_sql_debug_records_keep_the_query_but_not_the_vectors_in_it(caplog, settings):
    from django.db import connection

    settings.DEBUG = True
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    vector = "[" + ",".join(f"{v:.6f}" for v in np.linspace(-0.1, 0.1, 512)) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::vector <=> %s::vector", [vector, vector])
    [record] = [r for r in caplog.records if "<=>" in r.getMessage()]
    text = record_text(record)
    assert "SELECT" in text and "<numbers redacted>" in text
    assert Secrets(b"", b"", np.linspace(-0.1, 0.1, 512))._has_embedding_run(text) is False
