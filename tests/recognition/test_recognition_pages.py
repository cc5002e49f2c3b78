"""The identify and verify pages: real photos in, annotated pictures and verdicts out, errors beside fields."""

from __future__ import annotations

import base64
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from audit.models import AuditLog
from enrollment import services as identity_services
from identities.models import EnrollmentImage
from recognition.selectors import default_threshold
from recognition.services import current_model_version as serving_version
from tests.recognition.conftest import grey_jpeg, lfw_bytes, side_by_side
from tests.users import make_user

pytestmark = pytest.mark.django_db

IDENTIFY = reverse("recognition:identify")
VERIFY = reverse("recognition:verify")
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def upload(data: bytes, name: str = "probe.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def pictures(response) -> list[Image.Image]:
    """The annotated pictures embedded in the page, decoded."""
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in DATA_URI.findall(response.content.decode())]


def field_errors(response) -> str:
    return " ".join(re.findall(r'<p class="error field-error">(.*?)</p>', response.content.decode()))


@pytest.fixture
def signed_in(client, gallery):
    client.force_login(gallery.owner)
    return client


class TestPages:
    def test_the_identify_page_draws_the_faces_and_names_them(self, signed_in, gallery):
        photos = EnrollmentImage.objects.count()

        response = signed_in.post(IDENTIFY, {"image": upload(side_by_side(("George_W_Bush", 10), ("Ariel_Sharon", 10))),
                                             "top_k": 3, "threshold": ""})

        assert response.status_code == 200
        html = response.content.decode()
        [picture] = pictures(response)
        assert picture.format == "PNG" and picture.width >= 500  # a copy of the probe, not the upload itself
        assert "2 faces found" in html
        assert "Face 1:" in html and "Face 2:" in html
        assert '<span class="ok">George W Bush</span>' in html
        assert '<span class="error">unknown</span>' in html
        assert "svm+nearest-neighbours" in html and f"v{gallery.classifier.pk}" in html
        default = default_threshold("identify", model_version=gallery.classifier.model_version)
        assert gallery.classifier.model_version in html and f"{default.value:.3f}" in html  # the default threshold
        assert "Templates searched" in html and "decided by the score and the classifier" in html
        assert EnrollmentImage.objects.count() == photos  # the probe is not stored
        assert AuditLog.objects.filter(action="recognition.identify", actor=gallery.owner).exists()

    def test_the_drawn_boxes_are_green_for_a_known_face(self, signed_in):
        response = signed_in.post(IDENTIFY, {"image": upload(lfw_bytes("Tony_Blair", 10)), "top_k": 5})

        [picture] = pictures(response)
        green = (6, 118, 71)
        assert green in {colour for _, colour in picture.convert("RGB").getcolors(maxcolors=1 << 20)}
        assert "Tony Blair" in response.content.decode()

    def test_a_photo_without_a_face_says_so(self, signed_in):
        response = signed_in.post(IDENTIFY, {"image": upload(grey_jpeg()), "top_k": 5})
        assert response.status_code == 200
        assert "No face was found in this photo." in response.content.decode()
        assert len(pictures(response)) == 1

    def test_identify_errors_are_shown_beside_the_field(self, signed_in):
        not_an_image = signed_in.post(IDENTIFY, {"image": upload(b"plain text, not a photo"), "top_k": 5})
        assert not_an_image.status_code == 200
        assert "not a recognised image" in field_errors(not_an_image)

        data = lfw_bytes("George_W_Bush", 10)
        truncated = signed_in.post(IDENTIFY, {"image": upload(data[: len(data) // 2]), "top_k": 5})
        assert "cannot be decoded" in field_errors(truncated) or "truncated" in field_errors(truncated)

        missing = signed_in.post(IDENTIFY, {"top_k": 50})
        assert "This field is required." in field_errors(missing)
        assert "less than or equal to 20" in field_errors(missing)
        assert not pictures(missing)

    def test_verifying_two_photos_shows_match_or_no_match_and_the_threshold(self, signed_in):
        same = signed_in.post(VERIFY, {"mode": "images", "pair-image_a": upload(lfw_bytes("Colin_Powell", 11)),
                                       "pair-image_b": upload(lfw_bytes("Colin_Powell", 12))})
        different = signed_in.post(VERIFY, {"mode": "images", "pair-image_a": upload(lfw_bytes("Colin_Powell", 11)),
                                            "pair-image_b": upload(lfw_bytes("Tony_Blair", 10)),
                                            "pair-threshold": "0.5"})

        assert same.status_code == different.status_code == 200
        same_html, different_html = same.content.decode(), different.content.decode()
        assert ">MATCH<" in same_html and "NO MATCH" not in same_html
        default = default_threshold("verify", model_version=serving_version())
        assert f"{default.value:.3f}" in same_html and default.source in same_html and "Score" in same_html
        assert "NO MATCH" in different_html and "0.500" in different_html and "(request)" in different_html
        assert len(pictures(same)) == 2

    def test_verifying_a_photo_against_a_person(self, signed_in, gallery):
        rumsfeld, blair = gallery.people["Donald_Rumsfeld"], gallery.people["Tony_Blair"]

        right = signed_in.post(VERIFY, {"mode": "identity", "claim-image": upload(lfw_bytes("Donald_Rumsfeld", 12)),
                                        "claim-identity": rumsfeld.pk})
        wrong = signed_in.post(VERIFY, {"mode": "identity", "claim-image": upload(lfw_bytes("Donald_Rumsfeld", 12)),
                                        "claim-identity": blair.pk})

        assert ">MATCH<" in right.content.decode() and "matches <bdi>Donald Rumsfeld</bdi>" in right.content.decode()
        assert "3 approved photos of <bdi>Donald Rumsfeld</bdi>" in right.content.decode()
        assert "NO MATCH" in wrong.content.decode() and "does not match <bdi>Tony Blair</bdi>" in wrong.content.decode()

    def test_the_person_picker_lists_the_active_people_to_whoever_may_verify(self, client, gallery,
                                                                              stranger_user, admin):
        identity_services.erase_identity(identity=gallery.people["Tony_Blair"], actor=admin)
        names = ["Colin Powell", "Donald Rumsfeld", "George W Bush"]

        pages = []
        for user in (gallery.owner, admin, stranger_user):
            client.force_login(user)
            pages.append(client.get(VERIFY).content.decode())
        for page in pages:
            assert all(f">{name}</option>" in page for name in names)
            assert "erased" not in page.lower()
        client.force_login(make_user("rev", "reviewer"))
        assert client.get(VERIFY).status_code == 403

    def test_verify_errors_are_shown_beside_the_field(self, signed_in, gallery, stranger_user):
        no_face = signed_in.post(VERIFY, {"mode": "images", "pair-image_a": upload(lfw_bytes("Colin_Powell", 11)),
                                          "pair-image_b": upload(grey_jpeg())})
        assert no_face.status_code == 200 and "no face was found in this image" in field_errors(no_face)

        newcomer = identity_services.create_identity(display_name="Newcomer", actor=gallery.owner)
        no_templates = signed_in.post(VERIFY, {"mode": "identity", "claim-identity": newcomer.pk,
                                               "claim-image": upload(lfw_bytes("Colin_Powell", 11))})
        assert no_templates.status_code == 200 and "no approved templates" in field_errors(no_templates)

        gone = identity_services.create_identity(display_name="Gone", actor=stranger_user)
        identity_services.erase_identity(identity=gone, actor=stranger_user)
        refused = signed_in.post(VERIFY, {"mode": "identity", "claim-identity": gone.pk,
                                          "claim-image": upload(lfw_bytes("Colin_Powell", 11))})
        assert "Select a valid choice" in field_errors(refused)

        missing = signed_in.post(VERIFY, {"mode": "images", "pair-image_a": upload(lfw_bytes("Colin_Powell", 11))})
        assert "This field is required." in field_errors(missing)
        assert "MATCH" not in missing.content.decode()

        for response in (no_face, no_templates, refused, missing):
            assert "MATCH<" not in response.content.decode()


@pytest.mark.parametrize("url", [IDENTIFY, VERIFY])
def test_the_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.post(url, {"image": upload(grey_jpeg())}).status_code == 302


def test_the_navigation_links_to_the_pages_once_logged_in(client, django_user_model):
    assert reverse("recognition:identify") not in client.get(reverse("home")).content.decode()
    client.force_login(make_user("operator", "operator"))
    page = client.get(reverse("home")).content.decode()
    assert f'href="{IDENTIFY}"' in page and f'href="{VERIFY}"' in page


def test_a_post_from_neither_form_is_explained(client, django_user_model):
    client.force_login(make_user("operator", "operator"))
    response = client.post(VERIFY, {"mode": "guess"})
    assert response.status_code == 200 and "Use one of the two forms" in response.content.decode()
