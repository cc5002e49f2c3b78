"""Shared pieces of the API tests: an authenticated client and the project's error shape."""

from __future__ import annotations

from rest_framework.test import APIClient


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    """The one JSON error shape: {"error": {code, message, fields}}; returns the error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"], body["error"]
    return body["error"]
