"""manage.py create_api_token: prints a working token once; clear errors, no traceback."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import roles
from accounts.models import ApiToken
from audit.models import AuditLog
from tests.tokens import bearer_client

pytestmark = pytest.mark.django_db


def create_api_token(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_it_makes_a_new_client_and_prints_a_working_token(settings):
    token, told = create_api_token("--user", "bench-kiosk", "--create-client", "--name", "bench",
                                   "--expires-days", "7")
    assert token.startswith("frk_") and "\n" not in token  # stdout holds the token alone
    assert "bench-kiosk" in told and "shown once" in told and token not in told
    user = get_user_model().objects.get(username="bench-kiosk")
    assert roles.is_token_only(user) and not roles.can(user, "enroll")
    stored = ApiToken.objects.get()
    assert stored.name == "bench" and token.split("_", 2)[2] not in stored.key_hash
    assert timedelta(days=6, hours=23) < stored.expires_at - timezone.now() <= timedelta(days=7)
    # Past authentication: the empty call is refused as invalid input.
    assert bearer_client(token).post("/api/v1/verify", {}, format="multipart").status_code == 400
    assert AuditLog.objects.get(action="token.create").actor_name == "system"


def test_an_existing_account_gets_a_token_with_a_default_name(kiosk):
    token, _ = create_api_token("--user", "door-kiosks")
    stored = ApiToken.objects.get()
    assert stored.user == kiosk and stored.name == "cli-door-kiosks" and stored.expires_at is None
    assert token.startswith(f"frk_{stored.prefix}_")


def test_enroll_goes_with_a_new_client(db):
    create_api_token("--user", "enrol-kiosk", "--create-client", "--enroll")
    assert roles.can(get_user_model().objects.get(username="enrol-kiosk"), "enroll")


@pytest.mark.parametrize("args, message", [
    (["--user", "nobody"], "no account is called 'nobody'"),
    (["--user", "door-kiosks", "--create-client"], "taken"),
    (["--user", "door-kiosks", "--enroll"], "--enroll only goes with --create-client"),
    (["--user", "door-kiosks", "--expires-days", "0"], "--expires-days must be 1 or more"),
    (["--user", "bad name!", "--create-client"], "username"),
])
def test_mistakes_are_clear_command_errors_and_make_nothing(kiosk, args, message):
    with pytest.raises(CommandError, match=message):
        create_api_token(*args)
    assert not ApiToken.objects.exists()
