"""The token API under /api/v1/tokens/ and /api/v1/api-clients/: manage_tokens only, the token shown
once, never its hash, revoking, the audit log, and the schema's bearer scheme."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import roles, services
from accounts.models import ApiToken
from audit.models import AuditLog
from tests.api_helpers import api_client, assert_error
from tests.tokens import bearer_client, token_for

pytestmark = pytest.mark.django_db

API = "/api/v1"
FIELDS = {"id", "name", "prefix", "user_id", "username", "state", "created_at", "created_by", "expires_at",
          "last_used_at", "revoked_at", "revoked_by"}


def endpoints(token_id: int, user_id: int) -> list[tuple[str, str, dict | None]]:
    return [("get", f"{API}/tokens/", None),
            ("post", f"{API}/tokens/", {"user_id": user_id, "name": "x"}),
            ("get", f"{API}/tokens/{token_id}/", None),
            ("post", f"{API}/tokens/{token_id}/revoke", None),
            ("post", f"{API}/tokens/{token_id}/revoke/", None),
            ("post", f"{API}/api-clients/", {"username": "someone"})]


def by_token(user) -> APIClient:
    return bearer_client(token_for(user))


# --- who may call it -----------------------------------------------------------------------


def test_anonymous_calls_are_refused_with_401(kiosk, admin):
    token, _ = services.create_token(user=kiosk, name="k", actor=admin)
    for method, url, data in endpoints(token.pk, kiosk.pk):
        assert_error(getattr(APIClient(), method)(url, data, format="json"), 401, "not_authenticated")
    assert ApiToken.objects.get().revoked_at is None


def test_users_without_manage_tokens_are_refused_with_403(kiosk, admin, operator):
    token, _ = services.create_token(user=kiosk, name="k", actor=admin)
    for client in (api_client(operator), by_token(operator), by_token(kiosk)):
        for method, url, data in endpoints(token.pk, kiosk.pk):
            assert_error(getattr(client, method)(url, data, format="json"), 403, "permission_denied")
    assert ApiToken.objects.filter(name="x").count() == 0 and ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert not get_user_model().objects.filter(username="someone").exists()


def test_an_admin_manages_tokens_with_a_token_too(admin):
    assert by_token(admin).get(f"{API}/tokens/").status_code == 200


# --- create, shown once --------------------------------------------------------------------


def test_creating_a_token_answers_it_once_and_only_its_hash_is_kept(admin, kiosk):
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    response = api_client(admin).post(f"{API}/tokens/", {"user_id": kiosk.pk, "name": "door-kiosk-3",
                                                         "expires_at": expires.isoformat()}, format="json")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == FIELDS | {"token"}
    assert body["token"].startswith(f"frk_{body['prefix']}_")
    assert body["username"] == "door-kiosks" and body["state"] == "active" and body["created_by"] == "ada-admin"
    assert body["expires_at"] is not None and body["last_used_at"] is None
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.expires_at == expires and body["token"].split("_", 2)[2] not in stored.key_hash
    # The token works, as the account it was made for.
    assert bearer_client(body["token"]).post(f"{API}/verify", {}, format="multipart").status_code == 400


def test_list_and_detail_never_show_the_token_or_its_hash(admin, kiosk):
    created = api_client(admin).post(f"{API}/tokens/", {"user_id": kiosk.pk, "name": "k"}, format="json").json()
    stored = ApiToken.objects.get()
    listed = api_client(admin).get(f"{API}/tokens/")
    detail = api_client(admin).get(f"{API}/tokens/{stored.pk}/")
    for response in (listed, detail):
        assert response.status_code == 200
        text = response.content.decode()
        assert created["token"] not in text and created["token"].split("_", 2)[2] not in text
        assert stored.key_hash not in text and "key_hash" not in text
    assert listed.json()["count"] == 1 and set(listed.json()["results"][0]) == FIELDS
    assert detail.json()["prefix"] == stored.prefix


def test_an_expiry_in_the_past_is_refused(admin, kiosk):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api_client(admin).post(f"{API}/tokens/", {"user_id": kiosk.pk, "name": "k", "expires_at": past},
                                      format="json")
    error = assert_error(response, 400, "expiry_in_past", field="expires_at")
    assert "past" in error["message"]
    assert not ApiToken.objects.exists()


KIOSK = object()  # stands for the kiosk account's id


@pytest.mark.parametrize("data, field", [({"name": "k"}, "user_id"), ({"user_id": 999999999, "name": "k"}, "user_id"),
                                         ({"user_id": "x", "name": "k"}, "user_id"),
                                         ({"user_id": KIOSK, "name": ""}, "name"),
                                         ({"user_id": KIOSK, "name": "k" * 101}, "name"),
                                         ({"user_id": KIOSK, "name": "k", "expires_at": "soon"}, "expires_at")])
def test_invalid_input_is_refused_beside_its_field(admin, kiosk, data, field):
    data = {key: kiosk.pk if value is KIOSK else value for key, value in data.items()}
    assert_error(api_client(admin).post(f"{API}/tokens/", data, format="json"), 400, "invalid", field=field)
    assert not ApiToken.objects.exists()


def test_a_token_for_an_inactive_account_is_refused(admin, kiosk):
    kiosk.is_active = False
    kiosk.save(update_fields=["is_active"])
    response = api_client(admin).post(f"{API}/tokens/", {"user_id": kiosk.pk, "name": "k"}, format="json")
    assert_error(response, 400, "inactive_account")


# --- list filters, detail, revoke ----------------------------------------------------------


def test_the_list_is_newest_first_and_filters_by_state_and_account(admin, kiosk, operator):
    old, _ = services.create_token(user=kiosk, name="old", actor=admin)
    ApiToken.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2),
                                              expires_at=timezone.now() - timedelta(days=1))
    revoked, _ = services.create_token(user=kiosk, name="revoked", actor=admin)
    services.revoke_token(token=revoked, actor=admin)
    active, _ = services.create_token(user=operator, name="active", actor=admin)
    client = api_client(admin)

    def names(query: str = "") -> list[str]:
        response = client.get(f"{API}/tokens/{query}")
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names() == ["active", "revoked", "old"]
    assert names("?state=active") == ["active"]
    assert names("?state=expired") == ["old"]
    assert names("?state=revoked") == ["revoked"]
    assert names(f"?user={kiosk.pk}") == ["revoked", "old"]
    assert_error(client.get(f"{API}/tokens/?state=sleepy"), 400, "invalid", field="state")
    states = {row["name"]: row["state"] for row in client.get(f"{API}/tokens/").json()["results"]}
    assert states == {"active": "active", "revoked": "revoked", "old": "expired"}


def test_an_unknown_token_is_404(admin):
    assert_error(api_client(admin).get(f"{API}/tokens/424242/"), 404, "not_found")
    assert_error(api_client(admin).post(f"{API}/tokens/424242/revoke"), 404, "not_found")


def test_revoking_stops_the_token_and_is_idempotent(admin, kiosk):
    token, plaintext = services.create_token(user=kiosk, name="k", actor=admin)
    client = api_client(admin)
    response = client.post(f"{API}/tokens/{token.pk}/revoke")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "revoked" and body["revoked_by"] == "ada-admin" and body["revoked_at"]
    assert_error(bearer_client(plaintext).post(f"{API}/verify", {}, format="multipart"), 401, "token_revoked")
    again = client.post(f"{API}/tokens/{token.pk}/revoke/")
    assert again.status_code == 200 and again.json()["revoked_at"] == body["revoked_at"]
    assert AuditLog.objects.filter(action="token.revoke").count() == 1


# --- API client accounts -------------------------------------------------------------------


def test_creating_an_api_client_makes_a_token_only_account(admin):
    response = api_client(admin).post(f"{API}/api-clients/", {"username": "gate-7"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "gate-7" and body["roles"] == ["api_client"] and body["can_enroll"] is False
    user = get_user_model().objects.get(username="gate-7")
    assert not user.has_usable_password() and roles.is_token_only(user) and not user.is_staff
    assert roles.capabilities_of(user) == {"identify", "verify"}


def test_an_api_client_may_be_allowed_to_enroll(admin):
    response = api_client(admin).post(f"{API}/api-clients/", {"username": "enrol-desk", "can_enroll": True},
                                      format="json")
    assert response.status_code == 201 and response.json()["can_enroll"] is True
    user = get_user_model().objects.get(username="enrol-desk")
    assert roles.capabilities_of(user) == {"identify", "verify", "enroll"}


def test_a_taken_or_invalid_username_is_refused(admin, kiosk):
    client = api_client(admin)
    assert_error(client.post(f"{API}/api-clients/", {"username": "Door-Kiosks"}, format="json"), 409,
                 "username_taken", field="username")
    assert_error(client.post(f"{API}/api-clients/", {"username": "no spaces"}, format="json"), 400, "invalid",
                 field="username")
    assert_error(client.post(f"{API}/api-clients/", {"username": ""}, format="json"), 400, "invalid",
                 field="username")


# --- audit and schema ----------------------------------------------------------------------


def test_audit_entries_name_the_token_never_its_secret(admin):
    client = api_client(admin)
    user_id = client.post(f"{API}/api-clients/", {"username": "gate-8", "can_enroll": True}, format="json").json()["id"]
    created = client.post(f"{API}/tokens/", {"user_id": user_id, "name": "gate-8-a"}, format="json").json()
    client.post(f"{API}/tokens/{created['id']}/revoke")
    stored = ApiToken.objects.get()
    entries = {entry.action: entry for entry in AuditLog.objects.filter(action__in=[
        "api_client.create", "token.create", "token.revoke"])}
    assert set(entries) == {"api_client.create", "token.create", "token.revoke"}
    assert entries["api_client.create"].details == {"username": "gate-8", "role": "api_client", "can_enroll": True}
    assert entries["token.create"].details["prefix"] == stored.prefix
    assert entries["token.create"].details["name"] == "gate-8-a"
    assert all(entry.actor == admin for entry in entries.values())
    secret = created["token"].split("_", 2)[2]
    for entry in entries.values():
        text = str(entry.details)
        assert secret not in text and stored.key_hash not in text


def test_the_schema_documents_a_bearer_scheme_and_the_token_routes(admin):
    schema = api_client(admin).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "tokenAuth" not in schema["components"]["securitySchemes"]
    assert {"/api/v1/tokens/", "/api/v1/tokens/{token_id}/", "/api/v1/tokens/{token_id}/revoke",
            "/api/v1/api-clients/"} <= set(schema["paths"])
    assert "/api/v1/tokens/{token_id}/revoke/" not in schema["paths"]
    created = schema["paths"]["/api/v1/tokens/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "token" in schema["components"]["schemas"][ref]["properties"]
    assert "key_hash" not in str(schema)
