"""The token pages under /accounts/tokens/: manage_tokens only, a new token shown once and not cached,
the list's states, revoking, and api_client accounts kept off the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from accounts import roles, services
from accounts.models import ApiToken
from audit.models import AuditLog
from tests.accounts.conftest import PASSWORD
from tests.tokens import bearer_client

pytestmark = pytest.mark.django_db

LIST = reverse("accounts:tokens")
NEW = reverse("accounts:token-new")
TOKEN_RE = re.compile(r"frk_[0-9a-f]{12}_[A-Za-z0-9]{43}")


def revoke_url(token: ApiToken) -> str:
    return reverse("accounts:token-revoke", args=[token.pk])


def shown_tokens(html: str) -> set[str]:
    return set(TOKEN_RE.findall(html))


# --- who may see them ----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, kiosk, admin):
    token, _ = services.create_token(user=kiosk, name="k", actor=admin)
    for response in (client.get(LIST), client.get(NEW), client.post(NEW, {"name": "x", "account": "door-kiosks"}),
                     client.post(revoke_url(token))):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert ApiToken.objects.get().revoked_at is None and ApiToken.objects.count() == 1


def test_users_without_manage_tokens_get_403_and_no_link(client, operator, kiosk, admin):
    token, _ = services.create_token(user=kiosk, name="k", actor=admin)
    client.force_login(operator)
    assert client.get(LIST).status_code == 403
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"name": "x", "account": "door-kiosks"}).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    assert ApiToken.objects.get().revoked_at is None and ApiToken.objects.count() == 1
    assert f'href="{LIST}"'.encode() not in client.get(reverse("home")).content


def test_admins_see_the_list_and_a_link_to_it(client, admin):
    client.force_login(admin)
    assert client.get(LIST).status_code == 200
    assert f'href="{LIST}"'.encode() in client.get(reverse("home")).content


# --- a new token, shown once ---------------------------------------------------------------


def test_a_new_client_and_its_token_are_made_and_the_token_shown_once(client, admin):
    client.force_login(admin)
    assert client.get(NEW).status_code == 200
    response = client.post(NEW, {"name": "door-kiosk-3", "new_client": "gate-3", "can_enroll": "on",
                                 "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat()})
    assert response.status_code == 200  # the answer itself, no redirect to a page that could show it again
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    [plaintext] = shown_tokens(html)
    assert "shown only this once" in html
    user = get_user_model().objects.get(username="gate-3")
    assert roles.is_token_only(user) and roles.can(user, "enroll")
    token = ApiToken.objects.get()
    assert token.user == user and token.name == "door-kiosk-3" and token.created_by == admin
    assert token.expires_at == timezone.make_aware(
        timezone.datetime.combine(timezone.localdate() + timedelta(days=90), timezone.datetime.min.time()))
    # The list shows the prefix, never the token.
    listed = client.get(LIST).content.decode()
    assert token.prefix in listed and not shown_tokens(listed) and plaintext.split("_", 2)[2] not in listed
    # It works on the API.
    assert bearer_client(plaintext).post("/api/v1/verify", {}, format="multipart").status_code == 400


def test_a_token_for_an_existing_account(client, admin, kiosk):
    client.force_login(admin)
    response = client.post(NEW, {"name": "door-kiosk-4", "account": "door-kiosks"})
    assert response.status_code == 200 and len(shown_tokens(response.content.decode())) == 1
    assert ApiToken.objects.get().user == kiosk and ApiToken.objects.get().expires_at is None


@pytest.mark.parametrize("data, field, message", [
    ({"name": "k"}, "account", "Give the account"),
    ({"name": "k", "account": "door-kiosks", "new_client": "other"}, "new_client", "not both"),
    ({"name": "k", "account": "nobody"}, "account", "No account is called"),
    ({"name": "k", "new_client": "door-kiosks"}, "new_client", "taken"),
    ({"name": "k", "new_client": "bad name!"}, "new_client", "username"),
    ({"name": "k", "account": "door-kiosks", "can_enroll": "on"}, "can_enroll", "Only a new client"),
    ({"name": "", "account": "door-kiosks"}, "name", "required"),
    ({"name": "k", "account": "door-kiosks", "expires_on": "2001-01-01"}, "expires_on", "after today"),
])
def test_invalid_input_shows_beside_its_field_and_makes_nothing(client, admin, kiosk, data, field, message):
    client.force_login(admin)
    response = client.post(NEW, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors and message in " ".join(form.errors[field]), form.errors
    assert not shown_tokens(response.content.decode())
    assert not ApiToken.objects.exists()
    assert get_user_model().objects.filter(username__in=["other", "bad name!"]).count() == 0


def test_the_form_is_prefilled_with_an_account_from_the_query(client, admin):
    client.force_login(admin)
    assert client.get(NEW, {"account": "door-kiosks"}).context["form"]["account"].value() == "door-kiosks"


# --- the list and revoking -----------------------------------------------------------------


def test_the_list_shows_each_tokens_state_and_filters_by_it(client, admin, kiosk):
    active, _ = services.create_token(user=kiosk, name="door-active", actor=admin)
    expired, _ = services.create_token(user=kiosk, name="door-expired", actor=admin)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    revoked, _ = services.create_token(user=kiosk, name="door-revoked", actor=admin)
    services.revoke_token(token=revoked, actor=admin)
    client.force_login(admin)
    html = client.get(LIST).content.decode()
    for token, state in ((active, "active"), (expired, "expired"), (revoked, "revoked")):
        row = html[html.index(f'id="token-{token.pk}"'):]
        row = row[:row.index("</tr>")]
        assert token.name in row and token.prefix in row and "door-kiosks" in row
        assert f'status-{state}">{state}<' in row
        assert ("Revoke</button>" in row) is (state != "revoked")
    assert [t.pk for t in client.get(LIST, {"state": "expired"}).context["page"]] == [expired.pk]


def test_revoking_from_the_list_stops_the_token(client, admin, kiosk):
    token, plaintext = services.create_token(user=kiosk, name="door-1", actor=admin)
    client.force_login(admin)
    response = client.post(revoke_url(token), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "is revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin
    assert bearer_client(plaintext).post("/api/v1/verify", {}, format="multipart").status_code == 401
    assert client.post(revoke_url(token), follow=True).status_code == 200  # twice: nothing more happens
    assert AuditLog.objects.filter(action="token.revoke").count() == 1
    assert client.get(revoke_url(token)).status_code == 405
    assert client.post(reverse("accounts:token-revoke", args=[424242])).status_code == 404


# --- api_client accounts stay off the pages ------------------------------------------------


def test_an_api_client_cannot_sign_in_to_the_pages(client, admin):
    user = services.create_api_client(username="gate-9", actor=admin)
    user.set_password(PASSWORD)  # even given a password (e.g. in the admin)
    user.save()
    response = client.post(reverse("login"), {"username": "gate-9", "password": PASSWORD})
    assert response.status_code == 200
    assert "API client" in response.content.decode() and "cannot sign in" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_session_of_an_api_client_is_refused_on_the_pages(client, kiosk):
    client.force_login(kiosk)
    assert client.get(reverse("recognition:verify")).status_code == 403
