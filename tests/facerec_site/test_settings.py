"""Settings refuse unsafe production configurations; `check --deploy` is clean."""

import os
import secrets
import subprocess
import sys

from django.conf import settings

from tests.conftest import REPO_ROOT, database_url


def _run_manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **env_overrides,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_debug_off_refuses_public_hosts_without_secret_key():
    result = _run_manage("check", DEBUG="0", ALLOWED_HOSTS="faces.example.org", SECRET_KEY="")
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_debug_off_refuses_a_weak_secret_key():
    result = _run_manage("check", DEBUG="0", ALLOWED_HOSTS="faces.example.org", SECRET_KEY="changeme")
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_debug_off_refuses_wildcard_allowed_hosts():
    result = _run_manage("check", DEBUG="0", ALLOWED_HOSTS="*", SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_check_deploy_is_clean_apart_from_the_https_redirect_left_to_the_proxy():
    result = _run_manage("check", "--deploy", DEBUG="0", ALLOWED_HOSTS="faces.example.org",
                         SECRET_KEY=secrets.token_urlsafe(64))
    output = result.stdout + result.stderr
    warnings = sorted({word.rstrip(":)") for word in output.split() if word.startswith("(security.")})
    assert warnings in ([], ["(security.W008"]), output


def test_no_sqlite_or_eager_tasks_anywhere():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
