"""API authentication by token: `Authorization: Bearer frk_<prefix>_<secret>` (or `Token ...`).

A failure is a 401 in the one error shape with a code of its own (invalid_token,
token_revoked, token_expired, inactive_account) and `WWW-Authenticate: Bearer` naming
`error="invalid_token"` (RFC 6750). request.auth is the ApiToken, request.user its account.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts import selectors, services
from accounts.models import ApiToken

KEYWORDS = (b"bearer", b"token")  # "Token" as DRF's TokenAuthentication took it, for existing clients
REALM = "api"


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None  # not ours: the next class (the session) decides
        if len(header) != 2:
            self._fail(request, "invalid token header: expected `Bearer <token>`", "invalid_token")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            self._fail(request, "invalid token", "invalid_token")
        token = self._find(raw)
        if token is None:
            self._fail(request, "invalid token", "invalid_token")
        now = timezone.now()
        state = token.state_at(now)
        if state != ApiToken.State.ACTIVE:  # revoked or expired
            self._fail(request, f"token {state}", f"token_{state}")
        if not token.user.is_active:
            self._fail(request, "the token's account is inactive", "inactive_account")
        services.record_token_use(token=token, now=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        if getattr(request, "_facerec_token_failed", False):
            return f'Bearer realm="{REALM}", error="invalid_token"'
        return f'Bearer realm="{REALM}"'

    @staticmethod
    def _find(raw: str) -> ApiToken | None:
        parsed = services.parse_token(raw)
        if parsed is None:
            return None
        prefix, secret = parsed
        token = selectors.token_by_prefix(prefix)
        # Whether a token is revoked or expired is told only to whoever holds its secret.
        if token is None or not services.secret_matches(token, secret):
            return None
        return token

    @staticmethod
    def _fail(request, message: str, code: str):
        request._facerec_token_failed = True
        raise exceptions.AuthenticationFailed(message, code=code)
