"""Shared pieces of the upload and photo tests: a real LFW photo, a consenting person, and an admin
signed in to the pages.

The fixtures are imported by the test modules that use them (pytest finds fixtures in a
module's namespace); they are not in tests/conftest.py, where `admin_user` would replace
pytest-django's fixture of that name for every test.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from identities import services
from identities.models import Consent, EnrollmentImage, Identity
from recognition.models import FaceEmbedding
from recognition.services import current_model_version
from tests.shared_data import lfw_bytes  # noqa: F401 (the upload tests import it from here)
from tests.users import make_user

PASSWORD = "photo-tests-Pa55word!"


def consenting_person(name: str = "George W Bush", actor=None) -> Identity:
    """A person with a consent on record, so photos may be enrolled."""
    identity = services.create_identity(display_name=name, actor=actor)
    services.record_consent(identity=identity, given_by_name=name, purpose="building access", wording_version="v1")
    return identity


def synthetic_gallery(n_people: int, per_person: int = 3, seed: int = 0) -> list[Identity]:
    """People with approved photos and active templates (synthetic but well separated vectors)."""
    rng = np.random.default_rng(seed)
    model_version = current_model_version()
    people = []
    for i in range(n_people):
        identity = Identity.objects.create(display_name=f"Person {i}")
        consent = Consent.objects.create(identity=identity, given_by_name="x", purpose="test", wording_version="v1")
        centre = rng.normal(size=512)
        for j in range(per_person):
            image = EnrollmentImage(identity=identity, consent=consent, sha256=f"{i}-{j}", status="approved")
            image.file.save("x", ContentFile(b"not used"), save=False)
            image.save()
            vector = centre + 0.3 * rng.normal(size=512)
            FaceEmbedding.objects.create(image=image, identity=identity, vector=(vector / np.linalg.norm(vector)),
                                         model_name="facenet", model_version=model_version, active=True)
        people.append(identity)
    return people


@pytest.fixture
def admin_user(django_user_model):
    return make_user("photo-admin", "admin", password=PASSWORD)


@pytest.fixture
def person(admin_user) -> Identity:
    return consenting_person(actor=admin_user)


@pytest.fixture
def page_client(client, admin_user):
    client.login(username=admin_user.username, password=PASSWORD)
    return client
