"""Webhook signing secrets: made here (Standard Webhooks' `whsec_` + base64), stored as Fernet tokens
under a key derived from SECRET_KEY (webhooks sits below identities, whose photo keys it cannot use)."""

from __future__ import annotations

import base64
import secrets

from core.sealed import seal, unseal

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


# Domain-separated from every other use of SECRET_KEY (the key stored secrets were sealed with).
PURPOSE = "webhooks.secret-key"


def encrypt(secret: str) -> str:
    return seal(secret, purpose=PURPOSE)


def decrypt(token: str) -> str:
    return unseal(token, purpose=PURPOSE)
