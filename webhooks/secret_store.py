"""Webhook signing secrets: made here (Standard Webhooks' `whsec_` + base64), stored as Fernet tokens
under a key derived from SECRET_KEY (webhooks sits below identities, whose photo keys it cannot use)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet
from django.conf import settings

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _fernet() -> Fernet:
    # Domain-separated from every other use of SECRET_KEY.
    digest = hashlib.sha256(b"facerec.webhooks.secret-key\0" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
