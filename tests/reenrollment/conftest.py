"""Users of the re-enrollment tests, shared by the pages and the API tests."""

from __future__ import annotations

import pytest

from tests.users import make_user

PASSWORD = "reenrollment-test-Pa55word!"


@pytest.fixture
def staff():
    return make_user("coordinator", "admin", password=PASSWORD)


@pytest.fixture
def operator():
    return make_user("operator", "operator", password=PASSWORD)
