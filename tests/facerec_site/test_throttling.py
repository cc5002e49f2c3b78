"""API rate limits: per user or token, per address when anonymous, stricter for identify/verify."""

from __future__ import annotations

import pytest
import time_machine
from rest_framework.test import APIClient
from tests.tokens import token_for
from tests.users import make_user

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def token_client(django_user_model):
    def make(username: str) -> APIClient:
        user = make_user(username, "admin", password="x" * 12)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


def assert_throttled(response, within_s: int):
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= within_s
    error = response.json()["error"]
    assert error["code"] == "throttled" and error["fields"] == {}
    assert "throttled" in error["message"] and "seconds" in error["message"]


def test_each_user_is_limited_to_the_api_rate(settings, token_client):
    settings.FACEREC_API_RATE = "3/min"
    alice, bob = token_client("alice"), token_client("bob")
    assert [alice.get(f"{API}/identities/").status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(alice.get(f"{API}/identities/"), within_s=60)
    assert bob.get(f"{API}/identities/").status_code == 200  # a limit per user, not global


def test_the_limit_lifts_once_the_period_passed(settings, token_client):
    settings.FACEREC_API_RATE = "2/min"
    alice = token_client("alice")
    with time_machine.travel("2030-01-01T12:00:00Z", tick=False) as traveller:
        for _ in range(2):
            alice.get(f"{API}/identities/")
        assert alice.get(f"{API}/identities/").status_code == 429
        traveller.shift(61)
        assert alice.get(f"{API}/identities/").status_code == 200


def test_each_token_and_the_session_of_one_user_have_a_limit_of_their_own(settings, django_user_model):
    settings.FACEREC_API_RATE = "2/min"
    user = make_user("carol", "operator", password="x" * 12)
    by_token, by_other_token, by_session = APIClient(), APIClient(), APIClient()
    by_token.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    by_other_token.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    by_session.force_login(user)
    assert [by_token.get(f"{API}/identities/").status_code for _ in range(2)] == [200, 200]
    assert_throttled(by_token.get(f"{API}/identities/"), within_s=60)
    assert by_other_token.get(f"{API}/identities/").status_code == 200  # per token: each kiosk its own limit
    assert [by_session.get(f"{API}/identities/").status_code for _ in range(2)] == [200, 200]
    assert_throttled(by_session.get(f"{API}/identities/"), within_s=60)


def test_anonymous_calls_are_limited_per_address(settings):
    settings.FACEREC_API_ANON_RATE = "2/min"
    client = APIClient()
    assert [client.get("/api/docs/").status_code for _ in range(2)] == [200, 200]
    # A forged X-Forwarded-For changes nothing.
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json", HTTP_X_FORWARDED_FOR="192.0.2.50")
    assert_throttled(response, within_s=60)
    assert client.get("/api/docs/", REMOTE_ADDR="192.0.2.99").status_code == 200  # another address


def test_identify_and_verify_have_a_stricter_rate_of_their_own(settings, token_client):
    settings.FACEREC_API_RECOGNITION_RATE = "2/min"
    alice = token_client("alice")
    # Not even a valid request: the limit counts calls, before the upload is looked at.
    assert alice.post(f"{API}/verify", {}, format="multipart").status_code == 400
    assert alice.post(f"{API}/identify/", {}, format="multipart").status_code == 400
    assert_throttled(alice.post(f"{API}/verify", {}, format="multipart"), within_s=60)
    assert_throttled(alice.post(f"{API}/identify", {}, format="multipart"), within_s=60)
    assert alice.get(f"{API}/identities/").status_code == 200  # the rest of the API is not held back


def test_an_empty_rate_switches_a_limit_off(settings, token_client):
    settings.FACEREC_API_RATE = ""
    alice = token_client("alice")
    assert all(alice.get(f"{API}/identities/").status_code == 200 for _ in range(5))
