"""API tokens for tests, made through accounts.services: `token_for(user)` is the whole token."""

from __future__ import annotations

from accounts.services import create_token


def token_for(user, *, name: str = "test", **fields) -> str:
    """A new token acting as `user` (extra fields: expires_at); returns the plaintext."""
    return create_token(user=user, name=name, actor=None, **fields)[1]


def auth_header(user, **fields) -> str:
    """An `Authorization` header value carrying a new token of `user`."""
    return f"Bearer {token_for(user, **fields)}"
