"""Users with a role (accounts.roles), for tests: `make_user("alice", "admin")`."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from accounts.roles import assign_role


def make_user(username: str, role: str | None = None, *, password: str = "pw-long-enough-123", **fields):
    """A user in the given role (None: signed in, no role)."""
    user = get_user_model().objects.create_user(username=username, password=password, **fields)
    if role is not None:
        assign_role(user, role)
    return user
