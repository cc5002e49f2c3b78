"""API calls authenticated by token (accounts.authentication): stored hashed, the Bearer and Token
keywords, revoked, expired and unknown tokens, last_used_at, per-token limits, token-only accounts."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken
from audit.models import AuditLog
from tests.api_helpers import assert_error
from tests.tokens import bearer_client, token_for

pytestmark = pytest.mark.django_db

API = "/api/v1"
VERIFY = f"{API}/verify"  # identify/verify: what an api_client may call


def test_a_token_is_frk_prefix_secret_and_only_the_hash_of_its_secret_is_stored(kiosk, admin):
    token, plaintext = services.create_token(user=kiosk, name="door-kiosk-3", actor=admin)
    keyword, prefix, secret = plaintext.split("_", 2)
    assert keyword == "frk" and prefix == token.prefix and re.fullmatch(r"[A-Za-z0-9]{43}", secret)  # 256 bits
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    with connection.cursor() as cursor:  # the row as the database holds it: no secret, no whole token
        cursor.execute("SELECT * FROM accounts_apitoken WHERE id = %s", [token.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert secret not in row and plaintext not in row


def test_bearer_and_token_keywords_both_authenticate_as_the_tokens_account(kiosk):
    plaintext = token_for(kiosk)
    for keyword in ("Bearer", "Token", "bearer"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{keyword} {plaintext}")
        # Past authentication and permission: the empty upload is refused as invalid input.
        assert_error(client.post(VERIFY, {}, format="multipart"), 400, "invalid")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer frk_0123456789ab_not-the-secret", "Bearer",
                                    "Bearer frk_x_y z", "Token frk__secret", "Bearer \u00e9t\u00e9"])
def test_unknown_or_malformed_tokens_are_401_invalid_token(kiosk, header):
    token_for(kiosk)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    response = client.post(VERIFY, {}, format="multipart")
    error = assert_error(response, 401, "invalid_token")
    assert "invalid token" in error["message"]
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_a_right_prefix_with_a_wrong_secret_is_invalid_not_revoked(kiosk, admin):
    token, plaintext = services.create_token(user=kiosk, name="k", actor=admin)
    services.revoke_token(token=token, actor=admin)
    forged = f"frk_{token.prefix}_{'A' * 43}"
    assert_error(bearer_client(forged).post(VERIFY, {}, format="multipart"), 401, "invalid_token")


def test_anonymous_calls_are_told_to_use_a_bearer_token():
    response = APIClient().get(f"{API}/identities/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_revoked_token_is_refused_at_once_with_token_revoked(kiosk, admin):
    token, plaintext = services.create_token(user=kiosk, name="k", actor=admin)
    client = bearer_client(plaintext)
    assert client.post(VERIFY, {}, format="multipart").status_code == 400
    services.revoke_token(token=token, actor=admin)
    response = client.post(VERIFY, {}, format="multipart")
    error = assert_error(response, 401, "token_revoked")
    assert error["message"] == "token revoked"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_an_expired_token_is_refused_with_token_expired(kiosk, admin):
    expires = timezone.now() + timedelta(days=1)
    plaintext = token_for(kiosk, expires_at=expires)
    client = bearer_client(plaintext)
    assert client.post(VERIFY, {}, format="multipart").status_code == 400
    with time_machine.travel(expires + timedelta(seconds=1)):
        error = assert_error(client.post(VERIFY, {}, format="multipart"), 401, "token_expired")
    assert error["message"] == "token expired"


def test_a_token_whose_expiry_was_set_in_the_past_directly_is_expired(kiosk):
    plaintext = token_for(kiosk)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert_error(bearer_client(plaintext).get(f"{API}/identities/"), 401, "token_expired")


def test_the_token_of_an_inactive_account_is_refused(kiosk):
    plaintext = token_for(kiosk)
    kiosk.is_active = False
    kiosk.save(update_fields=["is_active"])
    assert_error(bearer_client(plaintext).post(VERIFY, {}, format="multipart"), 401, "inactive_account")


def test_last_used_is_set_on_use_and_not_rewritten_within_a_minute(kiosk):
    plaintext = token_for(kiosk)
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    client = bearer_client(plaintext)
    with time_machine.travel("2031-03-01T10:00:00Z", tick=False) as traveller:
        client.post(VERIFY, {}, format="multipart")
        first = ApiToken.objects.get().last_used_at
        assert first == timezone.now()
        traveller.shift(30)
        client.post(VERIFY, {}, format="multipart")
        assert ApiToken.objects.get().last_used_at == first  # within the minute: no write
        traveller.shift(31)
        client.post(VERIFY, {}, format="multipart")
        assert ApiToken.objects.get().last_used_at == timezone.now() > first


def test_two_tokens_of_one_client_have_api_limits_of_their_own(settings, kiosk):
    settings.FACEREC_API_RECOGNITION_RATE = "2/min"
    first, second = bearer_client(token_for(kiosk, name="door-1")), bearer_client(token_for(kiosk, name="door-2"))
    assert [first.post(VERIFY, {}, format="multipart").status_code for _ in range(2)] == [400, 400]
    assert_error(first.post(VERIFY, {}, format="multipart"), 429, "throttled")
    assert second.post(VERIFY, {}, format="multipart").status_code == 400  # not held back by door-1


def test_the_general_api_limit_is_per_token_too(settings, kiosk):
    settings.FACEREC_API_RATE = "1/min"
    first, second = bearer_client(token_for(kiosk, name="door-1")), bearer_client(token_for(kiosk, name="door-2"))
    assert first.post(VERIFY, {}, format="multipart").status_code == 400
    assert_error(first.post(VERIFY, {}, format="multipart"), 429, "throttled")
    assert second.post(VERIFY, {}, format="multipart").status_code == 400


def test_an_api_client_cannot_use_a_session_on_the_api(kiosk):
    client = APIClient()
    client.force_login(kiosk)
    error = assert_error(client.post(VERIFY, {}, format="multipart"), 403, "permission_denied")
    assert "tokens only" in error["message"]


def test_an_api_client_holds_only_its_role_capabilities(kiosk):
    client = bearer_client(token_for(kiosk))
    assert_error(client.get(f"{API}/identities/"), 403, "permission_denied")
    assert_error(client.get(f"{API}/tokens/"), 403, "permission_denied")


def test_a_client_created_with_enroll_may_enroll(admin):
    enroller = services.create_api_client(username="enrol-kiosk", can_enroll=True, actor=admin)
    client = bearer_client(token_for(enroller))
    response = client.post(f"{API}/identities/", {"display_name": "Grace Hopper"}, format="json")
    assert response.status_code == 201, response.content
    assert AuditLog.objects.filter(action="identity.create", actor=enroller).exists()
