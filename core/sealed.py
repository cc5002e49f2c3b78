"""Secrets the platform must read back (webhook signing secrets, camera stream credentials), stored as
Fernet tokens under a key derived from SECRET_KEY, one key per purpose (domain separation)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet(purpose: str) -> Fernet:
    digest = hashlib.sha256(f"facerec.{purpose}\0".encode() + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(text: str, *, purpose: str) -> str:
    return _fernet(purpose).encrypt(text.encode()).decode()


def unseal(token: str, *, purpose: str) -> str:
    return _fernet(purpose).decrypt(token.encode()).decode()
