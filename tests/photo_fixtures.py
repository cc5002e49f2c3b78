"""Shared pieces of the upload and photo tests: a real LFW photo, a consenting person, and an admin
signed in to the pages.

The fixtures are imported by the test modules that use them (pytest finds fixtures in a
module's namespace); they are not in tests/conftest.py, where `admin_user` would replace
pytest-django's fixture of that name for every test.
"""

from __future__ import annotations

import pytest

from identities import services
from identities.models import Identity
from tests.shared_data import lfw_bytes  # noqa: F401 (the upload tests import it from here)
from tests.users import make_user

PASSWORD = "photo-tests-Pa55word!"


def consenting_person(name: str = "George W Bush", actor=None) -> Identity:
    """A person with a consent on record, so photos may be enrolled."""
    identity = services.create_identity(display_name=name, actor=actor)
    services.record_consent(identity=identity, given_by_name=name, purpose="building access", wording_version="v1")
    return identity


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
