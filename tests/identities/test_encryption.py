"""Face photos and crops are encrypted at rest; the keys rotate; plain photos from before are upgraded.

Real database and real photos (LFW, ORL); these tests use the `db` fixture, so no task
is sent: processing runs in-process where a crop is needed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image, UnidentifiedImageError

from audit.models import AuditLog
from facerec_site.local_keys import load_photo_keys
from enrollment import services
from identities.management.commands import rotate_photo_keys
from identities.models import EnrollmentImage, Identity, private_storage
from identities.storage import PhotoUndecryptable
from recognition.runtime import decode_image, read_image_file
from tests.conftest import REPO_ROOT, database_url
from tests.photo_fixtures import consenting_person as person
from tests.shared_data import ORL_DIR, lfw_bytes
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db

IMAGE_MAGIC = (b"\xff\xd8", b"\x89PNG", b"P5", b"P2", b"GIF8", b"BM", b"RIFF")


def orl_bytes(subject: int = 1, n: int = 1) -> bytes:
    return (ORL_DIR / f"s{subject}" / f"{n}.pgm").read_bytes()


def png_bytes(shade: int = 120) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (160, 160), (200, 150, shade)).save(buf, format="PNG")
    return buf.getvalue()


def enroll(identity: Identity, *datas: bytes) -> list[EnrollmentImage]:
    return services.enroll_photos(identity=identity, uploads=[
        services.Upload(name=f"{i}.img", data=data) for i, data in enumerate(datas)])


def with_crops(images: list[EnrollmentImage]) -> dict[str, bytes]:
    """A crop for each photo, as processing stores it; returns file name -> plain bytes of all files."""
    plain = {}
    for i, image in enumerate(images):
        crop = png_bytes(shade=i)
        image.crop.save("crop", ContentFile(crop), save=True)
        plain[image.crop.name] = crop
        plain[image.file.name] = image.file.open("rb").read()
    return plain


def on_disk(name: str) -> bytes:
    return Path(private_storage.path(name)).read_bytes()


def readable_with(keys: list[str], name: str, settings) -> bytes:
    settings.FACEREC_PHOTO_KEYS = keys
    with private_storage.open(name) as fh:
        return fh.read()


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_photo_keys", *args, stdout=out)
    return out.getvalue()


def new_key() -> str:
    return Fernet.generate_key().decode()


# --- at rest -----------------------------------------------------------------------


def test_a_stored_photo_is_not_an_image_on_disk_and_reads_back_byte_for_byte():
    originals = [lfw_bytes(), orl_bytes()]  # a JPEG and a PGM
    images = enroll(person(), *originals)
    for image, original in zip(images, originals):
        raw = on_disk(image.file.name)
        assert raw.startswith(b"gAAAAA") and not raw.startswith(IMAGE_MAGIC)
        assert original not in raw
        with pytest.raises(UnidentifiedImageError):
            Image.open(private_storage.path(image.file.name))
        assert oct(os.stat(private_storage.path(image.file.name)).st_mode & 0o777) == "0o600"
        fresh = EnrollmentImage.objects.get(pk=image.pk)
        with fresh.file.open("rb") as fh:
            assert fh.read() == original
        assert np.array_equal(read_image_file(fresh.file), decode_image(original))


def test_the_crop_that_processing_stores_is_encrypted_and_reads_back_as_the_png():
    [image] = enroll(person(), lfw_bytes())
    assert services.process_photo(image.pk) == EnrollmentImage.Status.AWAITING_REVIEW
    image.refresh_from_db()
    raw = on_disk(image.crop.name)
    assert raw.startswith(b"gAAAAA") and not raw.startswith(IMAGE_MAGIC)
    with pytest.raises(UnidentifiedImageError):
        Image.open(private_storage.path(image.crop.name))
    with image.crop.open("rb") as fh:
        crop = fh.read()
    assert crop.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(crop)) as im:
        assert im.size == (160, 160)


def test_the_photo_views_serve_the_decrypted_original_and_crop(client, admin):
    [image] = enroll(person(actor=admin), lfw_bytes())
    image.crop.save("crop", ContentFile(png_bytes()), save=True)
    client.login(username=admin.username, password=PASSWORD)
    original = client.get(reverse("identities:photo_original", args=[image.pk]))
    assert original.status_code == 200 and original["Content-Type"] == "image/jpeg"
    assert b"".join(original.streaming_content) == lfw_bytes()
    assert int(original["Content-Length"]) == len(lfw_bytes())
    crop = client.get(reverse("identities:photo_crop", args=[image.pk]))
    assert crop.status_code == 200 and b"".join(crop.streaming_content) == png_bytes()


def test_a_photo_no_key_opens_is_answered_503_with_a_message_not_a_500(client, admin, settings):
    [image] = enroll(person(actor=admin), lfw_bytes())
    settings.FACEREC_PHOTO_KEYS = [new_key()]  # the key it was written with is gone
    with pytest.raises(PhotoUndecryptable):
        EnrollmentImage.objects.get(pk=image.pk).file.open("rb")
    client.login(username=admin.username, password=PASSWORD)
    response = client.get(reverse("identities:photo_original", args=[image.pk]))
    assert response.status_code == 503 and response["Cache-Control"] == "private, no-store"
    assert "cannot be decrypted" in response.content.decode() and image.file.name not in response.content.decode()


# --- key rotation ----------------------------------------------------------------


def test_rotation_moves_every_file_to_the_new_key_after_which_the_old_key_can_go(settings):
    old, new = new_key(), new_key()
    settings.FACEREC_PHOTO_KEYS = [old]
    images = enroll(person(), lfw_bytes(n=1), lfw_bytes(n=2)) + enroll(person("Colin Powell"),
                                                                      lfw_bytes("Colin_Powell", 1))
    plain = with_crops(images)
    before = {name: on_disk(name) for name in plain}

    settings.FACEREC_PHOTO_KEYS = [new, old]
    with pytest.raises(CommandError, match="not under the current key"):
        rotate("--check")
    output = rotate()
    assert "6 rotated to the current key" in output and "0 undecryptable" in output
    assert "3/3 photos done" in output
    assert AuditLog.objects.filter(action="photo.rotate_keys").get().details["rotated"] == 6

    for name, data in plain.items():
        assert on_disk(name) != before[name] and on_disk(name).startswith(b"gAAAAA")
        assert readable_with([new], name, settings) == data
        assert oct(os.stat(private_storage.path(name)).st_mode & 0o777) == "0o600"
    settings.FACEREC_PHOTO_KEYS = [new]
    assert "6 under the current key" in rotate("--check")
    assert not list(Path(private_storage.path(images[0].file.name)).parent.glob(".*.tmp"))  # no temp files left


def test_an_interrupted_rotation_resumes_and_reports_the_files_already_done(settings, monkeypatch):
    old, new = new_key(), new_key()
    settings.FACEREC_PHOTO_KEYS = [old]
    plain = with_crops(enroll(person(), lfw_bytes(n=1), lfw_bytes(n=2), lfw_bytes(n=3)))
    settings.FACEREC_PHOTO_KEYS = [new, old]

    real_step = rotate_photo_keys.Command.rotate_file
    calls = []

    def dies_at_the_fourth_file(self, name):
        calls.append(name)
        if len(calls) == 4:
            raise RuntimeError("power cut")
        return real_step(self, name)

    monkeypatch.setattr(rotate_photo_keys.Command, "rotate_file", dies_at_the_fourth_file)
    with pytest.raises(RuntimeError, match="power cut"):
        rotate()
    monkeypatch.undo()

    output = rotate()
    assert "3 rotated to the current key" in output and "3 already current" in output
    for name, data in plain.items():
        assert readable_with([new], name, settings) == data


def test_a_plain_photo_from_before_encryption_is_read_and_then_encrypted_by_the_rotation(client, admin):
    [image] = enroll(person(actor=admin), lfw_bytes())
    Path(private_storage.path(image.file.name)).write_bytes(lfw_bytes())  # as stored before encryption existed
    with EnrollmentImage.objects.get(pk=image.pk).file.open("rb") as fh:
        assert fh.read() == lfw_bytes()
    client.login(username=admin.username, password=PASSWORD)
    served = client.get(reverse("identities:photo_original", args=[image.pk]))
    assert b"".join(served.streaming_content) == lfw_bytes()

    with pytest.raises(CommandError):
        rotate("--check")
    output = rotate()
    assert "1 encrypted (were plain images)" in output
    assert on_disk(image.file.name).startswith(b"gAAAAA")
    with EnrollmentImage.objects.get(pk=image.pk).file.open("rb") as fh:
        assert fh.read() == lfw_bytes()


def test_files_no_key_opens_are_reported_by_photo_and_the_command_fails(settings):
    lost = new_key()
    settings.FACEREC_PHOTO_KEYS = [lost]
    [orphaned] = enroll(person(), lfw_bytes())
    current = [new_key()]
    settings.FACEREC_PHOTO_KEYS = current
    [fine] = enroll(person("Colin Powell"), lfw_bytes("Colin_Powell", 1))
    [gone] = enroll(person("Tony Blair"), lfw_bytes("Tony_Blair", 1))
    os.unlink(private_storage.path(gone.file.name))
    untouched = on_disk(orphaned.file.name)

    out = io.StringIO()
    with pytest.raises(CommandError, match=f"cannot be decrypted.*photo {orphaned.pk}$"):
        call_command("rotate_photo_keys", stdout=out)
    output = out.getvalue()
    assert "1 already current, 1 missing, 1 undecryptable" in output
    assert f"missing: photo {gone.pk}" in output and f"undecryptable: photo {orphaned.pk}" in output
    assert on_disk(orphaned.file.name) == untouched
    assert readable_with([lost], orphaned.file.name, settings) == lfw_bytes()
    assert AuditLog.objects.get(action="photo.rotate_keys").details["undecryptable"] == 1
    assert readable_with(current, fine.file.name, settings) == lfw_bytes("Colin_Powell", 1)


# --- keys in settings ------------------------------------------------------------------


def test_configured_keys_are_used_in_order_and_a_bad_one_is_named_by_position_only(tmp_path):
    first, second = new_key(), new_key()
    assert load_photo_keys([first, second], key_file=tmp_path / "photo_keys", local_only=False) == [first, second]
    assert not (tmp_path / "photo_keys").exists()
    bad = "not-a-fernet-key-" + "x" * 30
    with pytest.raises(ImproperlyConfigured, match="key 2 of 2 is not a Fernet key") as refused:
        load_photo_keys([first, bad], key_file=tmp_path / "photo_keys", local_only=True)
    assert bad not in str(refused.value) and first not in str(refused.value)


def test_a_public_site_without_keys_is_refused():
    with pytest.raises(ImproperlyConfigured, match="set FACEREC_PHOTO_KEYS"):
        load_photo_keys([], key_file=Path("/nonexistent/photo_keys"), local_only=False)


def test_a_local_site_without_keys_generates_one_once_into_a_private_file(tmp_path):
    key_file = tmp_path / "photo_keys"
    [key] = load_photo_keys([], key_file=key_file, local_only=True)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    Fernet(key)
    assert load_photo_keys([], key_file=key_file, local_only=True) == [key]
    assert [p.name for p in tmp_path.iterdir()] == ["photo_keys"]  # no temporary file left
    # Rotation on a local site: a new key on top, the old one after it.
    newer = new_key()
    key_file.write_text(f"{newer}\n{key}\n")
    assert load_photo_keys([], key_file=key_file, local_only=True) == [newer, key]
    key_file.write_text("garbage\n")
    with pytest.raises(ImproperlyConfigured, match="photo_keys: key 1 of 1 is not a Fernet key"):
        load_photo_keys([], key_file=key_file, local_only=True)


def test_the_site_refuses_to_start_with_public_hosts_and_no_photo_keys(tmp_path):
    from django.conf import settings

    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "FACEREC_VAR_DIR": str(tmp_path), "DEBUG": "0",
           "ALLOWED_HOSTS": "faces.example.org", "SECRET_KEY": "k" + "".join(new_key() for _ in range(2)),
           "FACEREC_PHOTO_KEYS": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "set FACEREC_PHOTO_KEYS" in result.stderr
    assert not (tmp_path / "photo_keys").exists()
