"""Names people typed are isolated on every page, so a right-to-left override inside one
cannot reverse the text after it: in <bdi>, or between FSI and PDI (U+2068/U+2069) where
markup cannot go (<title>, attributes).

One person, one admin and one API token, all named with a U+202E, built once for the class
in an outer transaction rolled back afterwards (as tests/recognition/conftest.py's gallery);
photos are processed in-process, no worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import services as token_services
from enrollment import services
from identities.models import EnrollmentImage, Identity
from reenrollment.models import ReenrollmentRequest
from tests.recognition.conftest import lfw_bytes
from tests.users import make_user

pytestmark = pytest.mark.django_db

NAME = "abc\u202edef"  # a person's name and the name of whoever gave their consent
USERNAME = "ops\u202enimda"  # the signed-in admin: in the header, and as actor, uploader, creator
TOKEN_NAME = "kiosk\u202etnorf"
NAMES = (NAME, USERNAME, TOKEN_NAME)
FSI, PDI = "\u2068", "\u2069"
PERSON = "Colin_Powell"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _isolated(text: str, name: str) -> bool:
    return text.count(name) == text.count(FSI + name + PDI)


class _NameOccurrences(HTMLParser):
    """Every occurrence of a name in a page: where it is and whether it is isolated."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.seen: list[tuple[str, str, bool]] = []  # (name, where, isolated)

    def handle_starttag(self, tag, attrs):
        for attr, value in attrs:
            for name in NAMES:
                if value and name in value:
                    self.seen.append((name, f"<{tag} {attr}=…>", _isolated(value, name)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data):
        for name in NAMES:
            if name in data:
                # An <option> holding only the name is a line of its own: nothing follows it to reverse.
                alone_in_option = self.open[-1:] == ["option"] and data.strip() == name
                isolated = "bdi" in self.open or _isolated(data, name) or alone_in_option
                self.seen.append((name, "/".join(self.open[-3:]), isolated))


def name_occurrences(response) -> list[tuple[str, str, bool]]:
    assert response.status_code == 200, response.status_code
    parser = _NameOccurrences()
    parser.feed(response.content.decode())
    parser.close()
    return parser.seen


def assert_names_isolated(response, *expected: str) -> None:
    seen = name_occurrences(response)
    for name in expected:
        assert any(found == name for found, _, _ in seen), f"{name!r} is not on the page"
    bare = [(name, where) for name, where, isolated in seen if not isolated]
    assert not bare, f"names shown without isolation: {bare}"


def upload(data: bytes, name: str = "probe.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


@dataclass
class Scene:
    admin: object
    identity: Identity


@pytest.fixture(scope="class")
def scene(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        with transaction.atomic():
            admin = make_user(USERNAME, "admin")
            identity = services.create_identity(display_name=NAME, actor=admin)
            services.record_consent(identity=identity, given_by_name=NAME, purpose="building access",
                                    wording_version="v1", actor=admin)
            approved, waiting = services.enroll_photos(identity=identity, actor=admin, uploads=[
                services.Upload(name=f"{PERSON}_{n:04d}.jpg", data=lfw_bytes(PERSON, n)) for n in (1, 2)])
            for image in (approved, waiting):
                assert services.process_photo(image.pk) == EnrollmentImage.Status.AWAITING_REVIEW
            services.approve_photos(image_ids=[approved.pk], actor=admin)  # the other one waits in the queue
            kiosk = make_user("door-kiosk", "api_client")
            token, _ = token_services.create_token(user=kiosk, name=TOKEN_NAME, actor=admin)
            token_services.revoke_token(token=token, actor=admin)
            now = timezone.now()
            ReenrollmentRequest.objects.create(identity=identity, reason="too_few_photos", status="dismissed",
                                               due_at=now + timedelta(days=30), closed_at=now, closed_by=admin)
            yield Scene(admin=admin, identity=identity)
            transaction.set_rollback(True)


@pytest.fixture
def admin_client(client, scene):
    client.force_login(scene.admin)
    return client


class TestNamesAreIsolated:
    def test_on_the_identity_list(self, admin_client):
        assert_names_isolated(admin_client.get(reverse("identities:list")), NAME, USERNAME)

    def test_on_the_identity_detail(self, admin_client, scene):
        assert_names_isolated(admin_client.get(reverse("identities:detail", args=[scene.identity.pk])),
                              NAME, USERNAME)

    def test_on_the_erase_confirmation(self, admin_client, scene):
        assert_names_isolated(admin_client.get(reverse("identities:erase", args=[scene.identity.pk])), NAME)

    def test_in_the_review_queue(self, admin_client):
        assert_names_isolated(admin_client.get(reverse("identities:review")), NAME, USERNAME)

    def test_on_the_identify_result(self, admin_client):
        response = admin_client.post(reverse("recognition:identify"),
                                     {"image": upload(lfw_bytes(PERSON, 1)), "top_k": 3, "threshold": ""})
        assert_names_isolated(response, NAME)
        assert f"marked as {FSI}{NAME}{PDI}" in unescape(response.content.decode())  # the picture's alt text

    def test_on_the_verify_page_and_its_result(self, admin_client, scene):
        assert_names_isolated(admin_client.get(reverse("recognition:verify")), NAME)  # the person picker
        response = admin_client.post(reverse("recognition:verify"), {
            "mode": "identity", "claim-image": upload(lfw_bytes(PERSON, 1)), "claim-identity": scene.identity.pk})
        assert_names_isolated(response, NAME)
        assert f"matches <bdi>{NAME}</bdi>." in response.content.decode()

    def test_on_the_token_list(self, admin_client):
        assert_names_isolated(admin_client.get(reverse("accounts:tokens"), {"state": ""}), TOKEN_NAME, USERNAME)

    def test_on_the_reenrollment_list(self, admin_client):
        assert_names_isolated(admin_client.get(reverse("reenrollment:list"), {"status": ""}), NAME, USERNAME)

    def test_the_page_title_isolates_the_name(self, admin_client, scene):
        html = admin_client.get(reverse("identities:detail", args=[scene.identity.pk])).content.decode()
        assert f"<title>{FSI}{NAME}{PDI} · facerec</title>" in unescape(html)

    def test_in_the_message_after_revoking_a_token(self, admin_client):
        from accounts.models import ApiToken

        token = ApiToken.objects.get(name=TOKEN_NAME)
        response = admin_client.post(reverse("accounts:token-revoke", args=[token.pk]), follow=True)
        assert "was already revoked" in response.content.decode()
        assert_names_isolated(response, TOKEN_NAME)
