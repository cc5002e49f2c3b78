"""The re-enrollment tests' admin, shared by the pages and the API tests: the shared `admin`
(tests/users.py) under the name their assertions expect ("coordinator"); `admin_api` and `operator`
come from tests/users.py."""

from __future__ import annotations

import pytest

from tests.users import make_user


@pytest.fixture
def admin():
    return make_user("coordinator", "admin")
