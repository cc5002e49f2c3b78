"""Accounts for the token tests: an administrator (manage_tokens) under the name their assertions
expect ("ada-admin"; overrides the shared `admin` of tests/users.py), an API client. The operator is
the shared `operator` (tests/users.py)."""

from __future__ import annotations

import pytest

from accounts import services
from tests.users import make_user

PASSWORD = "tokens-test-Pa55word!"


@pytest.fixture
def admin(db):
    return make_user("ada-admin", "admin", password=PASSWORD)


@pytest.fixture
def kiosk(db, admin):
    """An api_client account, as the Tokens page makes it."""
    return services.create_api_client(username="door-kiosks", actor=admin)
