"""Reads of API tokens and accounts that the pages, the API, the admin and the services share."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import ApiToken

State = ApiToken.State


def api_tokens(*, state: str | None = None, user_id: int | None = None) -> QuerySet[ApiToken]:
    """Tokens, newest first, narrowed by state (active, expired, revoked) and account when given."""
    tokens = ApiToken.objects.select_related("user", "created_by", "revoked_by").order_by("-created_at", "-id")
    now = timezone.now()
    if state == State.REVOKED:
        tokens = tokens.filter(revoked_at__isnull=False)
    elif state == State.EXPIRED:
        tokens = tokens.filter(revoked_at__isnull=True, expires_at__lte=now)
    elif state == State.ACTIVE:
        tokens = tokens.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)
    if user_id is not None:
        tokens = tokens.filter(user_id=user_id)
    return tokens


def token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with this public prefix, with its account, for authentication."""
    return ApiToken.objects.select_related("user").filter(prefix=prefix).first()


def account_named(username: str):
    """The account with exactly this username, or None."""
    User = get_user_model()
    return User.objects.filter(**{User.USERNAME_FIELD: username}).first()


def username_taken(username: str) -> bool:
    """Whether an account has this username, whatever its case."""
    User = get_user_model()
    return User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists()
