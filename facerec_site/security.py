"""Site-wide protections: security headers on every response, and the login lockout.

Failed logins are counted in the shared cache per username (case-insensitive) and per
client address. Reaching FACEREC_LOGIN_MAX_FAILURES (per IP: ..._PER_IP) within
FACEREC_LOGIN_LOCKOUT_S locks that username or address out for FACEREC_LOGIN_LOCKOUT_S;
a successful login clears the username's count. Passwords are never stored or logged.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from redis.exceptions import RedisError

from accounts import roles
from core.request_context import client_ip

log = logging.getLogger(__name__)


def _cache_outage_allows(fallback):
    """While the cache (on the broker's server) is unreachable, logins work without the
    lockout rather than all failing: /healthz reports the outage, the throttles do the same."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (RedisError, OSError) as exc:  # as facerec_site.throttling: redis-py's errors are not OSError
                log.warning("login lockout skipped, cache unreachable: %s", exc)
                return fallback
        return inner
    return wrap


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy, unless a view set its own.

    Django's SecurityMiddleware sends the others (nosniff, Referrer-Policy,
    Cross-Origin-Opener-Policy, HSTS on HTTPS); XFrameOptionsMiddleware sends X-Frame-Options.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.FACEREC_CONTENT_SECURITY_POLICY:
            response.setdefault("Content-Security-Policy", settings.FACEREC_CONTENT_SECURITY_POLICY)
        if settings.FACEREC_PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.FACEREC_PERMISSIONS_POLICY)
        return response


# --- login lockout ------------------------------------------------------------------


def _key(kind: str, scope: str, value: str) -> str:
    # Hashed: no usernames in cache keys, and any length or character is a valid key.
    return f"login-{kind}:{scope}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _subjects(username: str, ip: str | None) -> list[tuple[str, str, int]]:
    """(scope, normalised value, failure limit) for each counter an attempt touches."""
    subjects = [("username", username.strip().casefold(), settings.FACEREC_LOGIN_MAX_FAILURES)]
    if ip:
        subjects.append(("ip", ip, settings.FACEREC_LOGIN_MAX_FAILURES_PER_IP))
    return subjects


@_cache_outage_allows(0)
def locked_out_for_s(*, username: str, ip: str | None) -> int:
    """Seconds until this username and address may try again; 0 when neither is locked."""
    now = time.time()
    wait = 0.0
    for scope, value, _limit in _subjects(username, ip):
        until = cache.get(_key("lock", scope, value))
        if until is None:
            continue
        if until <= now:  # the cache entry outlived the window (only when the clock jumps)
            cache.delete_many([_key("lock", scope, value), _key("failures", scope, value)])
            continue
        wait = max(wait, until - now)
    return math.ceil(wait)


@_cache_outage_allows(0)
def record_login_failure(*, username: str, ip: str | None) -> int:
    """Count one failed login; returns the seconds locked out if this failure started a lockout."""
    from audit import services as audit  # the site uses the apps' audit log, not the reverse

    window_s = settings.FACEREC_LOGIN_LOCKOUT_S
    locked_s = 0
    for scope, value, limit in _subjects(username, ip):
        key = _key("failures", scope, value)
        cache.add(key, 0, timeout=window_s)  # the window starts at the first failure
        try:
            failures = cache.incr(key)  # atomic across processes (Redis INCR keeps the expiry)
        except ValueError:  # expired between add and incr
            failures = 1
            cache.set(key, failures, timeout=window_s)
        if failures < limit:
            continue
        # Locked for a whole window from here; counting starts afresh once it ends.
        cache.set(_key("lock", scope, value), time.time() + window_s, timeout=window_s)
        cache.delete(key)
        locked_s = window_s
        audit.record(action="auth.lockout", details={"username": username.strip()[:150], "failures": failures,
                                                     "scope": scope})
    return locked_s


@_cache_outage_allows(None)
def record_login_success(*, username: str) -> None:
    cache.delete(_key("failures", "username", username.strip().casefold()))


def lockout_message(wait_s: int) -> str:
    minutes = max(1, math.ceil(wait_s / 60))
    return (f"Too many failed logins for this account or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")


class LoginLockoutMixin:
    """For AuthenticationForm and its subclasses: refuse locked-out attempts, count failures,
    and refuse api_client accounts (accounts.roles.is_token_only) whatever their password.

    A refused attempt never reaches the password check. `locked_out_s` tells the view to
    answer 429.
    """

    locked_out_s = 0

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:  # field errors already say what is missing
            return super().clean()
        ip = client_ip(self.request) if self.request is not None else None
        if wait := locked_out_for_s(username=username, ip=ip):
            self._refuse(wait)
        try:
            cleaned = super().clean()
        except ValidationError:
            if wait := record_login_failure(username=username, ip=ip):
                self._refuse(wait)
            raise
        record_login_success(username=username)
        return cleaned

    def _refuse(self, wait_s: int):
        self.locked_out_s = wait_s
        raise ValidationError(lockout_message(wait_s), code="locked_out")

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if roles.is_token_only(user):  # an api_client account: API tokens only, never a session
            raise ValidationError("This account is an API client: it uses API tokens and cannot sign in here.",
                                  code="token_only")


class LockoutAuthenticationForm(LoginLockoutMixin, AuthenticationForm):
    pass


class LockoutAdminAuthenticationForm(LoginLockoutMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """The site's login page with the lockout: a refused attempt is a 429 with Retry-After."""

    authentication_form = LockoutAuthenticationForm
    http_method_names = ["get", "post", "options"]  # FormView would treat PUT as POST

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.locked_out_s:
            response.status_code = 429
            response["Retry-After"] = str(form.locked_out_s)
        return response
