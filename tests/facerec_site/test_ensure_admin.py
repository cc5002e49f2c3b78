"""`manage.py ensure_admin`: the first administrator, in the admin role, under the site's password rules."""

from __future__ import annotations

import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.roles import can

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("password, reason", [("short1", "too short"), ("password123", "too common"),
                                              ("1234567890123", "entirely numeric")])
def test_a_weak_admin_password_is_refused_with_the_reason_and_no_one_is_made(settings, password, reason):
    settings.FACEREC_ADMIN_PASSWORD = password
    with pytest.raises(CommandError, match=reason):
        call_command("ensure_admin")
    assert not get_user_model().objects.exists()


def test_the_first_administrator_is_made_once_in_the_admin_role(settings, capsys, tmp_path):
    settings.FACEREC_ADMIN_USERNAME, settings.FACEREC_ADMIN_PASSWORD = "boss", "a-long-Enough-passphrase-7"
    settings.VAR_DIR = tmp_path
    call_command("ensure_admin")
    call_command("ensure_admin")
    boss = get_user_model().objects.get()
    assert boss.username == "boss" and boss.check_password("a-long-Enough-passphrase-7")
    assert boss.groups.filter(name="admin").exists() and can(boss, "manage_tokens") and boss.is_staff
    assert "nothing to do" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())  # a password of the operator's own is not copied anywhere


def test_a_generated_password_goes_to_a_private_file_and_never_to_the_output(settings, capsys, tmp_path):
    settings.FACEREC_ADMIN_USERNAME, settings.FACEREC_ADMIN_PASSWORD = "boss", ""
    settings.VAR_DIR = tmp_path

    call_command("ensure_admin")

    path = tmp_path / "initial_admin_password"
    password = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_user_model().objects.get(username="boss").check_password(password)
    out = capsys.readouterr().out
    assert str(path) in out and password not in out
    assert [p.name for p in tmp_path.iterdir()] == ["initial_admin_password"]  # no temporary file left
