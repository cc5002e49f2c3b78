"""Users with a role (accounts.roles), for tests: `make_user("alice", "admin")`, and the fixtures every
test may ask for (registered in tests/conftest.py):

- `admin`: a user in the admin role, named "reviewer" (the name the identity tests' audit
  assertions expect); `admin_api`: an APIClient authenticated as them.
- `operator`: a user in the operator role, named "operator"; `operator_api`: an APIClient as them.

Both sign in with PASSWORD. A test folder whose assertions need another name overrides the fixture
of the same name in its conftest (tests/evaluation, tests/reenrollment, tests/accounts); `admin_api`
and `operator_api` then authenticate that user. Not `admin_user` or `admin_client`: those are
pytest-django's (a superuser).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.roles import assign_role
from tests.api_helpers import api_client

PASSWORD = "pw-long-enough-123"


def make_user(username: str, role: str | None = None, *, password: str = PASSWORD, **fields):
    """A user in the given role (None: signed in, no role)."""
    user = get_user_model().objects.create_user(username=username, password=password, **fields)
    if role is not None:
        assign_role(user, role)
    return user


@pytest.fixture
def admin(db):
    return make_user("reviewer", "admin")


@pytest.fixture
def operator(db):
    return make_user("operator", "operator")


@pytest.fixture
def admin_api(admin) -> APIClient:
    return api_client(admin)


@pytest.fixture
def operator_api(operator) -> APIClient:
    return api_client(operator)
