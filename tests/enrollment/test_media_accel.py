"""The permission-checked photo view: nginx sends plain files (X-Accel-Redirect), Django decrypts the others.

FACEREC_MEDIA_ACCEL_REDIRECT hands a file stored as a plain image (FACEREC_PHOTO_ENCRYPTION
off, or from before encryption) to nginx's `internal` location; an encrypted file is
always decrypted and sent by Django, since nginx cannot. Real database and photos; the
`db` fixture, so no task is sent.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from enrollment import services
from identities.models import EnrollmentImage, Identity, private_storage
from tests import photo_fixtures
from tests.conftest import REPO_ROOT, database_url
from tests.photo_fixtures import consenting_person, lfw_bytes
from tests.users import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "media-accel-Pa55word!"
PREFIX = "/protected-media/"
# Fixtures shared with the other photo tests (pytest finds them in this module's namespace).
admin_user, page_client = photo_fixtures.admin_user, photo_fixtures.page_client


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (160, 160), (200, 150, 120)).save(buf, format="PNG")
    return buf.getvalue()


def on_disk(name: str) -> bytes:
    return Path(private_storage.path(name)).read_bytes()


@pytest.fixture
def accel(settings):
    settings.FACEREC_MEDIA_ACCEL_REDIRECT = PREFIX
    return settings


def enroll(data: bytes, *, crop: bytes | None = None) -> EnrollmentImage:
    [photo] = services.enroll_photos(identity=consenting_person(), uploads=[services.Upload(name="a.jpg", data=data)])
    if crop is not None:
        photo.crop.save("crop", ContentFile(crop), save=True)
    return photo


def original(client, photo):
    return client.get(reverse("identities:photo_original", args=[photo.pk]))


def assert_private(response, content_type: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Cache-Control"] == "private, no-store"


# --- encryption off: plain files go to nginx --------------------------------------------


def test_with_encryption_off_new_photos_are_stored_plain_and_handed_to_nginx(accel, page_client):
    accel.FACEREC_PHOTO_ENCRYPTION = False
    photo = enroll(lfw_bytes(), crop=png_bytes())
    assert on_disk(photo.file.name) == lfw_bytes()  # a plain image the web server can send as it is
    assert on_disk(photo.crop.name) == png_bytes()

    response = original(page_client, photo)
    assert_private(response, "image/jpeg")
    assert response["X-Accel-Redirect"] == PREFIX + photo.file.name
    assert response.content == b""  # nginx sends the body
    # What nginx's `location /protected-media/ { internal; alias MEDIA_ROOT/private/; }` reads:
    assert (Path(settings.MEDIA_ROOT) / "private" / response["X-Accel-Redirect"].removeprefix(PREFIX)).read_bytes() \
        == lfw_bytes()

    crop = page_client.get(reverse("identities:photo_crop", args=[photo.pk]))
    assert_private(crop, "image/png")
    assert crop["X-Accel-Redirect"] == PREFIX + photo.crop.name and crop.content == b""


def test_a_plain_photo_from_before_encryption_is_handed_to_nginx(accel, page_client):
    photo = enroll(lfw_bytes())
    Path(private_storage.path(photo.file.name)).write_bytes(lfw_bytes())  # as stored before encryption existed
    response = original(page_client, photo)
    assert_private(response, "image/jpeg")
    assert response["X-Accel-Redirect"] == PREFIX + photo.file.name


def test_with_encryption_off_older_encrypted_photos_are_still_decrypted_by_django(accel, page_client):
    photo = enroll(lfw_bytes())  # encrypted (the default)
    accel.FACEREC_PHOTO_ENCRYPTION = False
    response = original(page_client, photo)
    assert_private(response, "image/jpeg")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == lfw_bytes()


def test_an_encrypted_photo_whose_keys_are_gone_is_a_503_not_a_500(accel, page_client):
    photo = enroll(lfw_bytes())
    accel.FACEREC_PHOTO_ENCRYPTION, accel.FACEREC_PHOTO_KEYS = False, []
    response = original(page_client, photo)
    assert response.status_code == 503
    assert response["Cache-Control"] == "private, no-store"
    assert "X-Accel-Redirect" not in response


# --- encryption on: Django decrypts -------------------------------------------------------


def test_an_encrypted_photo_is_decrypted_and_sent_by_django_even_with_the_option_set(accel, page_client):
    photo = enroll(lfw_bytes(), crop=png_bytes())
    assert on_disk(photo.file.name).startswith(b"gAAAAA")  # nginx would send the token
    response = original(page_client, photo)
    assert_private(response, "image/jpeg")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == lfw_bytes()
    crop = page_client.get(reverse("identities:photo_crop", args=[photo.pk]))
    assert_private(crop, "image/png")
    assert "X-Accel-Redirect" not in crop and b"".join(crop.streaming_content) == png_bytes()


def test_without_the_option_django_sends_plain_files_too(settings, page_client):
    settings.FACEREC_PHOTO_ENCRYPTION = False
    photo = enroll(lfw_bytes())
    response = original(page_client, photo)
    assert_private(response, "image/jpeg")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == lfw_bytes()


def test_the_permission_check_comes_before_any_redirect(accel, client, django_user_model):
    accel.FACEREC_PHOTO_ENCRYPTION = False
    photo = enroll(lfw_bytes())  # enrolled by no one: an operator may not see it
    make_user("media-operator", "operator", password=PASSWORD)
    client.login(username="media-operator", password=PASSWORD)
    response = original(client, photo)
    assert response.status_code in (403, 404)
    assert "X-Accel-Redirect" not in response
    client.logout()
    assert "X-Accel-Redirect" not in original(client, photo)


# --- settings and commands -------------------------------------------------------------------


def test_a_public_site_with_encryption_off_needs_no_photo_keys():
    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SETTINGS_MODULE", "FACEREC_PHOTO_KEYS")}
    env.update(DATABASE_URL=database_url(settings.DATABASES["default"]), CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
               DEBUG="0", ALLOWED_HOSTS="faces.example.org", SECRET_KEY=secrets.token_urlsafe(64),
               FACEREC_PHOTO_KEYS="", FACEREC_PHOTO_ENCRYPTION="false", FACEREC_MEDIA_ACCEL_REDIRECT=PREFIX)
    command = ("from django.conf import settings as s; "
               "print(s.FACEREC_PHOTO_ENCRYPTION, s.FACEREC_PHOTO_KEYS, s.FACEREC_MEDIA_ACCEL_REDIRECT)")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", command], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"False [] {PREFIX}"


def test_rotating_keys_is_refused_while_encryption_is_off(settings):
    settings.FACEREC_PHOTO_ENCRYPTION = False
    settings.FACEREC_PHOTO_KEYS = [Fernet.generate_key().decode()]
    photo = enroll(lfw_bytes())
    with pytest.raises(CommandError, match="FACEREC_PHOTO_ENCRYPTION is off"):
        call_command("rotate_photo_keys", stdout=io.StringIO())
    assert on_disk(photo.file.name) == lfw_bytes()  # left as the site chose
    assert Identity.objects.count() == 1
