"""Users of the report tests, shared by the pages and the API tests."""

from __future__ import annotations

import pytest

from tests.users import make_user

PASSWORD = "reports-test-Pa55word!"


@pytest.fixture
def staff():
    return make_user("analyst", "admin", password=PASSWORD)


@pytest.fixture
def operator():
    return make_user("operator", "operator", password=PASSWORD)
