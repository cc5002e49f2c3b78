"""API rate limits: DRF throttles whose rates come from the FACEREC_API_*_RATE settings.

DRF's own classes copy DEFAULT_THROTTLE_RATES once, at import; these read the setting on
every request, so one place (settings, from the environment) decides and tests can change
it. Counters live in the default cache (Redis), shared by every web process. A refused
call is answered 429 with Retry-After and the usual error body (code "throttled").
With the cache unreachable (the broker's Valkey down) calls are let through, not refused.
A call made with an API token is counted per token (each kiosk of one client its own
limit); a session per user; an anonymous call per address.
"""

from __future__ import annotations

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import throttling

log = logging.getLogger(__name__)


def _caller(request) -> str | None:
    """`token-<id>` for an API token, `user-<id>` for a session, None when anonymous."""
    from accounts.models import ApiToken  # not at import: DRF may load this module before the apps

    if isinstance(request.auth, ApiToken):
        return f"token-{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user-{request.user.pk}"
    return None


class _SettingsRateThrottle(throttling.SimpleRateThrottle):
    rate_setting: str

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting) or None  # empty: no limit

    def allow_request(self, request, view) -> bool:
        # A rate limit protects the API; it must not take the API down with the cache
        # (uploads during a broker outage are kept for later, tests/resilience).
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            log.warning("rate limit %s not checked, the cache is unreachable: %s", self.scope, exc)
            return True


class UserRateThrottle(_SettingsRateThrottle):
    """Each API token, and each user signed in with a session: FACEREC_API_RATE."""

    scope = "user"
    rate_setting = "FACEREC_API_RATE"

    def get_cache_key(self, request, view) -> str | None:
        caller = _caller(request)
        if caller is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": caller}


class AnonRateThrottle(_SettingsRateThrottle):
    """Anonymous calls (the schema, the docs), per client address: FACEREC_API_ANON_RATE."""

    scope = "anon"
    rate_setting = "FACEREC_API_ANON_RATE"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RecognitionRateThrottle(_SettingsRateThrottle):
    """identify and verify run the face models: a stricter rate of their own, per token or user.

    Chosen by URL namespace, so every route of the recognition API is covered without its
    views knowing about throttling.
    """

    scope = "recognition"
    rate_setting = "FACEREC_API_RECOGNITION_RATE"
    namespaces = frozenset({"recognition_api"})

    def get_cache_key(self, request, view) -> str | None:
        match = request.resolver_match
        if match is None or not self.namespaces.intersection(match.namespaces):
            return None
        ident = _caller(request) or f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
