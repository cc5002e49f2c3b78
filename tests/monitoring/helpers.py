"""Rows and answers the home page and metrics tests count: made through the platform's own code."""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile

from identities.models import EnrollmentImage
from tests.api_helpers import api_client
from tests.photo_fixtures import consenting_person
from tests.shared_data import lfw_bytes


def photo_awaiting_review(name: str = "Pat Example") -> EnrollmentImage:
    """A person with a photo row in the review queue (the file itself is not needed to count it)."""
    person = consenting_person(name)
    return EnrollmentImage.objects.create(identity=person, consent=person.consents.first(), file="review.jpg",
                                          sha256=hashlib.sha256(name.encode()).hexdigest(),
                                          status=EnrollmentImage.Status.AWAITING_REVIEW)


def identify_a_stranger(user) -> list[dict]:
    """A real identify through the API with a real photo of someone never enrolled: its faces."""
    probe = SimpleUploadedFile("probe.jpg", lfw_bytes("Gerhard_Schroeder", 1), content_type="image/jpeg")
    response = api_client(user).post("/api/v1/identify", {"image": probe}, format="multipart")
    assert response.status_code == 200, response.content
    return response.json()["faces"]
