"""API tokens for tests, made through accounts.services: `token_for(user)` is the whole token."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.services import create_token


def token_for(user, *, name: str = "test", **fields) -> str:
    """A new token acting as `user` (extra fields: expires_at); returns the plaintext."""
    return create_token(user=user, name=name, actor=None, **fields)[1]


def bearer_client(token: str) -> APIClient:
    """An API client sending `Authorization: Bearer <token>` on every call."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
