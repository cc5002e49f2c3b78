"""Accounts for the token tests: an administrator (manage_tokens), an operator, an API client."""

from __future__ import annotations

import pytest

from accounts import services
from tests.users import make_user

PASSWORD = "tokens-test-Pa55word!"


@pytest.fixture
def admin(db):
    return make_user("ada-admin", "admin", password=PASSWORD)


@pytest.fixture
def operator(db):
    return make_user("otto-operator", "operator", password=PASSWORD)


@pytest.fixture
def kiosk(db, admin):
    """An api_client account, as the Tokens page makes it."""
    return services.create_api_client(username="door-kiosks", actor=admin)
