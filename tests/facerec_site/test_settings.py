"""Settings refuse unsafe production configurations; `check --deploy` is clean."""

import json
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
        "FACEREC_PHOTO_KEYS": ",".join(settings.FACEREC_PHOTO_KEYS),  # a public site must set them
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


PRODUCTION_PROBE = """
import json
from django.conf import settings as s
from django.test import Client
response = Client().get("/login/", secure=True, HTTP_HOST="faces.example.org")
cookie = response.cookies[s.CSRF_COOKIE_NAME]
print(json.dumps({
    "status": response.status_code,
    "headers": dict(response.headers),
    "csrf_cookie": {"secure": bool(cookie["secure"]), "httponly": bool(cookie["httponly"]),
                    "samesite": cookie["samesite"]},
    "settings": {name: getattr(s, name) for name in (
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_AGE",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE", "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY")},
    "cache": s.CACHES["default"]["BACKEND"],
}))
"""


def test_production_settings_send_the_security_headers_and_cookie_flags():
    result = _run_manage("shell", "-c", PRODUCTION_PROBE, DEBUG="0", ALLOWED_HOSTS="faces.example.org",
                         SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["status"] == 200
    headers = probe["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert probe["csrf_cookie"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert probe["settings"] == {
        "SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_AGE": 8 * 3600, "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "CSRF_COOKIE_SECURE": True, "CSRF_COOKIE_HTTPONLY": True,
    }
    # Lockout and throttle counters are shared by every web process.
    assert probe["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_the_cache_is_the_brokers_server_on_a_database_of_its_own():
    from facerec_site.addresses import redis_cache_location

    assert (redis_cache_location("redis+socket:///srv/var/valkey.sock?virtual_host=0", 2)
            == "unix:///srv/var/valkey.sock?db=2")
    assert redis_cache_location("redis://:pw@redis:6379/0", 2) == "redis://:pw@redis:6379/2"
    assert (redis_cache_location("rediss://redis:6380/1?ssl_cert_reqs=none&visibility_timeout=9", 3)
            == "rediss://redis:6380/3?ssl_cert_reqs=none")
    assert redis_cache_location("amqp://rabbit//", 2) is None


def test_no_sqlite_or_eager_tasks_anywhere():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)


def test_an_unknown_embedding_backend_is_refused_with_the_choices():
    result = _run_manage("check", FACEREC_EMBEDDING_BACKEND="int4")
    assert result.returncode != 0
    assert "FACEREC_EMBEDDING_BACKEND must be auto, torch, onnx or onnx-int8, not 'int4'" in result.stderr


def test_a_detection_face_size_under_mtcnns_window_is_refused():
    result = _run_manage("check", FACEREC_MIN_DETECT_FACE_PX="8")
    assert result.returncode != 0
    assert "FACEREC_MIN_DETECT_FACE_PX must be at least 12" in result.stderr


def test_a_search_breadth_outside_pgvectors_range_is_refused():
    result = _run_manage("check", FACEREC_HNSW_EF_SEARCH="0")
    assert result.returncode != 0
    assert "FACEREC_HNSW_EF_SEARCH must be from 1 to 1000" in result.stderr
