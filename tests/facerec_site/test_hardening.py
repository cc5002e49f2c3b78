"""Security headers, session cookies and the login lockout."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditLog
from tests.tokens import token_for
from tests.users import make_user

PASSWORD = "hardening-Pa55word!"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    # Every login attempt hashes a password once (even for unknown users); these tests make many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):
    return make_user("alice", "operator", password=PASSWORD)


def log_in(client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def assert_logged_in(client, yes: bool = True):
    assert ("_auth_user_id" in client.session) is yes


# --- headers -------------------------------------------------------------------------


def assert_security_headers(response):
    csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["img-src"] == "'self' data:"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["form-action"] == "'self'" and csp["base-uri"] == "'self'"
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_pages_carry_the_security_headers(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_api_responses_carry_the_security_headers(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    response = client.get("/api/v1/identities/")
    assert response.status_code == 200
    assert_security_headers(response)
    # Errors too.
    assert_security_headers(APIClient().get("/api/v1/identities/"))


def test_no_page_needs_an_inline_script():
    """script-src 'self' would block it: every <script> in the templates has a src."""
    for path in (settings.BASE_DIR / "templates").rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", path.read_text()):
            assert "src=" in tag, f"{path}: {tag}"


def test_api_docs_load_swagger_ui_from_this_site_not_a_cdn(client):
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html and "https://" not in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") for src in sources), sources
    for src in sources:
        if src.startswith(settings.STATIC_URL):
            assert finders.find(src.removeprefix(settings.STATIC_URL)), src
    # Its init script is a separate response, not an inline <script> the CSP would block.
    script_url = next(src for src in sources if "script" in src.split("?")[-1])
    script = client.get(script_url)
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


# --- sessions and cookies ------------------------------------------------------------


def test_session_and_csrf_cookies_are_http_only_same_site_and_end_with_the_browser(client, alice):
    client.get(reverse("login"))
    csrf = client.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert bool(session["secure"]) is settings.SESSION_COOKIE_SECURE
    assert not session["max-age"] and not session["expires"]  # a browser-session cookie
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 8 * 3600


def test_the_login_form_still_works_with_an_http_only_csrf_cookie(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD,
                                              "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert_logged_in(client)


# --- login lockout -------------------------------------------------------------------


def fail(client, username: str, times: int, **extra):
    return [log_in(client, username, "wrong-password", **extra) for _ in range(times)]


def test_repeated_failures_for_a_username_lock_it_out_with_a_clear_message(client, alice):
    limit = settings.FACEREC_LOGIN_MAX_FAILURES
    assert limit == 5
    responses = fail(client, "alice", limit)
    assert [r.status_code for r in responses[:-1]] == [200] * (limit - 1)
    assert "Please enter a correct username and password" in responses[0].content.decode()

    for response in (responses[-1], log_in(client, "alice", PASSWORD)):  # the right password is refused too
        assert response.status_code == 429
        assert int(response["Retry-After"]) == pytest.approx(settings.FACEREC_LOGIN_LOCKOUT_S, abs=5)
        assert "Too many failed logins" in response.content.decode()
        assert "Try again in 15 minutes" in response.content.decode()
        assert response.context["form"].errors  # the form is shown again, with the message
    assert_logged_in(client, False)


def test_the_username_is_matched_without_regard_to_case(client, alice):
    for name in ("Alice", "ALICE", "alice", "aLiCe"):
        fail(client, name, 1)
    assert log_in(client, "alice", "wrong-password").status_code == 429
    assert log_in(client, "ALICE", PASSWORD).status_code == 429


def test_a_lockout_is_audited_without_the_password(client, alice):
    fail(client, "alice", settings.FACEREC_LOGIN_MAX_FAILURES, REMOTE_ADDR="203.0.113.7")
    entries = list(AuditLog.objects.filter(action="auth.lockout"))
    assert len(entries) == 2  # the username and the address both reached the limit
    assert {e.details["scope"] for e in entries} == {"username", "ip"}
    for entry in entries:
        assert entry.details["username"] == "alice"
        assert entry.details["failures"] == settings.FACEREC_LOGIN_MAX_FAILURES
        assert entry.client_ip == "203.0.113.7" and entry.actor is None
        assert "wrong-password" not in str(entry.details)
    # Refused attempts during the lockout do not add entries.
    fail(client, "alice", 3, REMOTE_ADDR="203.0.113.7")
    assert AuditLog.objects.filter(action="auth.lockout").count() == 2


def test_failures_from_one_address_lock_that_address_out_for_every_username(client, alice, django_user_model):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    for name in ("carol", "dave", "erin", "frank", "grace"):  # a spray: one attempt per username
        log_in(client, name, "wrong-password", REMOTE_ADDR="198.51.100.4")
    response = log_in(client, "bob", PASSWORD, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 429 and "Too many failed logins" in response.content.decode()
    assert_logged_in(client, False)
    # Another address, the same user: fine.
    assert log_in(client, "bob", PASSWORD, REMOTE_ADDR="198.51.100.5").status_code == 302
    assert_logged_in(client)


def test_a_forged_x_forwarded_for_does_not_escape_the_address_lockout(client, alice):
    for n in range(settings.FACEREC_LOGIN_MAX_FAILURES):
        log_in(client, f"user{n}", "wrong-password", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert log_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_a_successful_login_clears_the_usernames_failures(client, alice, settings):
    settings.FACEREC_LOGIN_MAX_FAILURES_PER_IP = 100
    limit = settings.FACEREC_LOGIN_MAX_FAILURES
    fail(client, "alice", limit - 1)
    assert log_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    assert [r.status_code for r in fail(client, "alice", limit - 1)] == [200] * (limit - 1)
    assert log_in(client, "alice", PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_window(client, alice):
    with time_machine.travel("2030-01-01T12:00:00Z", tick=False) as traveller:
        fail(client, "alice", settings.FACEREC_LOGIN_MAX_FAILURES)
        traveller.shift(settings.FACEREC_LOGIN_LOCKOUT_S - 60)
        response = log_in(client, "alice", PASSWORD)
        assert response.status_code == 429 and "Try again in 1 minute." in response.content.decode()
        traveller.shift(61)
        assert log_in(client, "alice", PASSWORD).status_code == 302
    assert_logged_in(client)


def test_the_window_is_a_setting(client, alice, settings):
    settings.FACEREC_LOGIN_MAX_FAILURES = 2
    settings.FACEREC_LOGIN_LOCKOUT_S = 120
    responses = fail(client, "alice", 2)
    assert [r.status_code for r in responses] == [200, 429]
    assert int(responses[-1]["Retry-After"]) == pytest.approx(120, abs=5)
    assert "Try again in 2 minutes." in responses[-1].content.decode()


def test_the_admin_login_locks_out_too(client, django_user_model):
    django_user_model.objects.create_user(username="root", password=PASSWORD, is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _ in range(settings.FACEREC_LOGIN_MAX_FAILURES):
        client.post(url, {"username": "root", "password": "wrong-password"})
    response = client.post(url, {"username": "root", "password": PASSWORD})
    assert "Too many failed logins" in response.content.decode()
    assert_logged_in(client, False)


def test_logins_work_without_the_lockout_while_the_cache_is_unreachable(monkeypatch):
    import redis

    from facerec_site import security

    def unreachable(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting")

    monkeypatch.setattr(security.cache, "get", unreachable)
    monkeypatch.setattr(security.cache, "add", unreachable)
    monkeypatch.setattr(security.cache, "delete", unreachable)

    assert security.locked_out_for_s(username="alice", ip="10.0.0.1") == 0
    assert security.record_login_failure(username="alice", ip="10.0.0.1") == 0
    assert security.record_login_success(username="alice") is None
