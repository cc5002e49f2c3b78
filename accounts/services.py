"""Writes of accounts: API client accounts and their tokens, each audited.

A token is `frk_<prefix>_<secret>`: the prefix is a public id (unique, shown in lists),
the secret 43 random letters and digits (256 bits, from `secrets`; no `-`, so a double
click selects the whole token) of which only the SHA-256 is stored. The plaintext
leaves `create_token` once and is never written anywhere, audit log included.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import roles, selectors
from accounts.errors import ExpiryInPast, InactiveAccount, UsernameTaken
from accounts.models import ApiToken
from audit import services as audit
from core.errors import DomainError

TOKEN_PREFIX = "frk"
PREFIX_BYTES = 6  # 12 hex characters: the public id
SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 43  # 62**43 > 2**256: as strong as 32 random bytes
# last_used_at is kept to the minute: one conditional UPDATE per token and minute, not one per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(token: ApiToken, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), token.key_hash)


def parse_token(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of `frk_<prefix>_<secret>`, or None when it does not have that shape."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != 2 * PREFIX_BYTES or any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix, secret


def _token_details(token: ApiToken) -> dict:
    """What the audit log says about a token: never its secret or the secret's hash."""
    return {"name": token.name, "prefix": token.prefix, "user_id": token.user_id,
            "username": token.user.get_username(),
            "expires_at": token.expires_at.isoformat() if token.expires_at else None}


@transaction.atomic
def create_token(*, user, name: str, expires_at: datetime | None = None, actor) -> tuple[ApiToken, str]:
    """A new token acting as `user`; returns the row and the plaintext token, which is not kept."""
    name = (name or "").strip()
    if not name:
        raise DomainError("a token needs a name", field="name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise DomainError("the name is longer than 100 characters", field="name")
    if not user.is_active:
        raise InactiveAccount(f"the account {user.get_username()!r} is inactive", field="user")
    if expires_at is not None and expires_at <= timezone.now():
        raise ExpiryInPast("the expiry is in the past: a token must expire later than now", field="expires_at")
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    for _attempt in range(5):  # a 48-bit prefix colliding is rare; a collision is retried
        prefix = secrets.token_hex(PREFIX_BYTES)
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(user=user, name=name, prefix=prefix, key_hash=hash_secret(secret),
                                                expires_at=expires_at, created_by=_user_or_none(actor))
            break
        except IntegrityError:
            if selectors.token_by_prefix(prefix) is None:
                raise
    else:
        raise RuntimeError("no free token prefix after 5 attempts")
    audit.record(action="token.create", actor=actor, target=token, details=_token_details(token))
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def revoke_token(*, token: ApiToken, actor) -> ApiToken:
    """Revoke the token at once; revoking a revoked token changes nothing (and writes no audit entry)."""
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=_user_or_none(actor))
    token.refresh_from_db()
    if revoked:
        audit.record(action="token.revoke", actor=actor, target=token, details=_token_details(token))
    return token


def record_token_use(*, token: ApiToken, now: datetime) -> None:
    """Set last_used_at, to the minute (not audited: it is the token's own use)."""
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    updated = (ApiToken.objects.filter(pk=token.pk)
               .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale))
               .update(last_used_at=now))
    if updated:
        token.last_used_at = now


@transaction.atomic
def create_api_client(*, username: str, actor, can_enroll: bool = False):
    """A token-only account (role api_client, no usable password); `can_enroll` grants it `enroll` too."""
    User = get_user_model()
    username = (username or "").strip()
    field = User._meta.get_field(User.USERNAME_FIELD)
    if not username:
        raise DomainError("an account needs a username", field="username")
    if len(username) > field.max_length:
        raise DomainError(f"the username is longer than {field.max_length} characters", field="username")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise DomainError(exc.messages[0], field="username") from None
    if selectors.username_taken(username):
        raise UsernameTaken(f"the username {username!r} is taken", field="username")
    user = User(**{User.USERNAME_FIELD: username})
    user.set_unusable_password()
    user.save()
    roles.assign_role(user, roles.API_CLIENT)
    if can_enroll:
        user.user_permissions.add(Permission.objects.get(content_type__app_label=roles.APP_LABEL,
                                                         codename="enroll"))
    audit.record(action="api_client.create", actor=actor, target=user,
                 details={"username": username, "role": roles.API_CLIENT, "can_enroll": can_enroll})
    return User.objects.get(pk=user.pk)  # fresh: no permission cache from before the grants


def _user_or_none(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
