"""Encryption at rest for face photos and crops: the private storage writes Fernet tokens and reads them back.

Keys come from settings.FACEREC_PHOTO_KEYS (first = current, the others only decrypt),
loaded and checked once at start-up by `facerec_site.local_keys.load_photo_keys`. Files written before
encryption existed (plain images) are still read as they are, and `manage.py
rotate_photo_keys` encrypts them. A deployment that encrypts the disk instead sets
FACEREC_PHOTO_ENCRYPTION=false: new files are then written as plain images, and files
encrypted before are still decrypted with the keys it keeps.
"""

from __future__ import annotations

import os
from contextlib import suppress
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from core.errors import DomainError
from core.files import write_file_atomically

# A Fernet token is url-safe base64 of 0x80 (the version) and a 64-bit timestamp whose
# high bits are zero for the next two thousand years; no image format starts like this.
FERNET_TOKEN_PREFIX = b"gAAAAA"

# What `rotate` did to a file, and what `key_state` finds.
ROTATED = "rotated"  # was under an older key, now under the current one
ENCRYPTED = "encrypted"  # was a plain image from before encryption, now under the current key
CURRENT = "current"  # already under the current key: left alone
STALE = "stale"  # under an older key (key_state only)
PLAINTEXT = "plaintext"  # a plain image (key_state only)
UNDECRYPTABLE = "undecryptable"  # key_state only; rotate raises PhotoUndecryptable
MISSING = "missing"  # key_state only; rotate raises FileNotFoundError


class PhotoUndecryptable(DomainError):
    """A stored photo is a Fernet token that none of FACEREC_PHOTO_KEYS opens (a key was dropped
    too early, or the file is damaged). The server's fault, not the caller's: 503."""

    code = "photo_undecryptable"
    status = 503

    def __init__(self, name: str):
        super().__init__("this photo cannot be decrypted with the site's photo keys (FACEREC_PHOTO_KEYS): "
                         "was the key it was written with removed?")
        self.name = name  # for the logs; the message shown to users does not carry it


# --- keys ----------------------------------------------------------------------


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    fernets = [Fernet(key) for key in keys]
    return fernets[0], MultiFernet(fernets)


def _current_keys() -> tuple[Fernet, MultiFernet]:
    """Read at each use, so a test or a rotation that changes the setting takes effect at once."""
    keys = tuple(settings.FACEREC_PHOTO_KEYS)
    if not keys:
        raise ImproperlyConfigured("FACEREC_PHOTO_KEYS is empty: face photos cannot be encrypted.")
    return _fernets(keys)


def is_fernet_token(data: bytes) -> bool:
    return data[:len(FERNET_TOKEN_PREFIX)] == FERNET_TOKEN_PREFIX


def encrypt(data: bytes) -> bytes:
    current, _ = _current_keys()
    return current.encrypt(data)


def decrypt(raw: bytes, *, name: str = "") -> bytes:
    """The plain bytes of a stored file: a token is decrypted with any of the keys, a plain
    image (from before encryption, or with FACEREC_PHOTO_ENCRYPTION off) is returned as it is."""
    if not is_fernet_token(raw):
        return raw
    if not settings.FACEREC_PHOTO_KEYS:  # encryption off and the keys it was written with gone
        raise PhotoUndecryptable(name)
    _, keys = _current_keys()
    try:
        return keys.decrypt(raw)
    except InvalidToken:
        raise PhotoUndecryptable(name) from None


# --- storage ---------------------------------------------------------------------


# The path is the name the migrations know this storage by (identities/migrations/0001).
@deconstructible(path="identities.models.PrivateMediaStorage")
class PrivateMediaStorage(FileSystemStorage):
    """Face photos live under MEDIA_ROOT/private, encrypted, and have no URL: only checked views serve them.

    save() writes a Fernet token under the current key (the plain image when
    FACEREC_PHOTO_ENCRYPTION is off); open("rb") returns the plain
    bytes in memory (photos are at most FACEREC_MAX_UPLOAD_BYTES). size() is the size on
    disk, not the image's. The location follows settings.MEDIA_ROOT at each use (not
    frozen at import), so a deployment, a worker or a test that sets MEDIA_ROOT gets its
    own storage.
    """

    def __init__(self):
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self):
        return os.path.join(settings.MEDIA_ROOT, "private")

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("face photos are private and have no URL")

    def _save(self, name, content):
        data = b"".join(content.chunks())
        return super()._save(name, ContentFile(encrypt(data) if settings.FACEREC_PHOTO_ENCRYPTION else data))

    def _open(self, name, mode="rb"):
        if any(flag in mode for flag in "wa+x"):
            raise ValueError("encrypted photos are written with save(), not opened for writing")
        with open(self.path(name), "rb") as fh:
            raw = fh.read()
        return ContentFile(decrypt(raw, name=name), name=name)

    def stored_plaintext(self, name: str) -> bool:
        """Whether the file is a plain image on disk (a web server could send it as it is), not a token.

        Raises FileNotFoundError."""
        with open(self.path(name), "rb") as fh:
            return not is_fernet_token(fh.read(len(FERNET_TOKEN_PREFIX)))

    # --- key rotation (manage.py rotate_photo_keys) ---

    def key_state(self, name: str) -> str:
        """CURRENT, STALE, PLAINTEXT, UNDECRYPTABLE or MISSING; changes nothing."""
        try:
            with open(self.path(name), "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return MISSING
        if not is_fernet_token(raw):
            return PLAINTEXT
        current, keys = _current_keys()
        for fernet, state in ((current, CURRENT), (keys, STALE)):
            with suppress(InvalidToken):
                fernet.decrypt(raw)
                return state
        return UNDECRYPTABLE

    def rotate(self, name: str) -> str:
        """Re-encrypt one file under the current key, atomically: ROTATED, ENCRYPTED or CURRENT.

        A file the current key alone opens is left alone, so an interrupted run resumes
        where it stopped. Raises FileNotFoundError or PhotoUndecryptable.
        """
        path = self.path(name)
        with open(path, "rb") as fh:
            raw = fh.read()
        current, keys = _current_keys()
        if is_fernet_token(raw):
            with suppress(InvalidToken):
                current.decrypt(raw)
                return CURRENT
            try:
                token, outcome = keys.rotate(raw), ROTATED
            except InvalidToken:
                raise PhotoUndecryptable(name) from None
        else:
            token, outcome = current.encrypt(raw), ENCRYPTED
        write_file_atomically(path, token)
        return outcome
