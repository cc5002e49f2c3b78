"""Keys a site reachable only from this machine makes for itself, once, under var/.

Settings call these while reading configuration: a public site must configure its keys
(SECRET_KEY, FACEREC_PHOTO_KEYS); a loopback-only one gets random keys generated on first
start and kept in 0600 files. Plain Python: no Django app is imported.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

_MAKE_A_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def local_secret_key(path: Path) -> str:
    """A random key generated once per installation, for a site only reachable locally.

    Written to a temporary file that mkstemp creates 0600, then hard-linked into place (as
    _local_photo_keys does for var/photo_keys): the key is never readable by others, never
    half-written, and of two processes starting at once (web and worker) the first one's key
    is the one both use.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)  # var/ is made where first written
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(64) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:  # another process was first: use its key
                pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to generate a new key (sessions then end).")
    return key


def load_photo_keys(configured: Sequence[str], *, key_file: Path, local_only: bool,
                    required: bool = True) -> list[str]:
    """The photo keys for settings: the configured ones, or for a loopback-only site those in
    `key_file` (one is generated there, 0600, on first use). Refuses a public site without keys
    and any key that is not a Fernet key, naming its position, never the key.

    With `required` off (FACEREC_PHOTO_ENCRYPTION=false: nothing new is encrypted) no key is
    needed or generated; configured keys, or an existing key file, still decrypt older files."""
    keys = [key.strip() for key in configured if key.strip()]
    source = "FACEREC_PHOTO_KEYS"
    if not keys and not required:
        if not (local_only and key_file.exists()):
            return []
        keys, source = _local_photo_keys(key_file), str(key_file)
    if not keys:
        if not local_only:
            raise ImproperlyConfigured(
                "Face photos are encrypted at rest: with a public ALLOWED_HOSTS, set FACEREC_PHOTO_KEYS "
                f"(comma-separated Fernet keys, current first; make one with {_MAKE_A_KEY}).")
        keys = _local_photo_keys(key_file)
        source = str(key_file)
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(
                f"{source}: key {position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded "
                f"bytes; make one with {_MAKE_A_KEY}).") from None
    return keys


def _local_photo_keys(path: Path) -> list[str]:
    """Keys of a site only reachable locally, one a line (current first), generated once.

    Created by hard-linking a finished temporary file, so two processes starting at once
    (web and worker) end up with the same key, never an empty or half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)  # var/ is made where first written
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".photo_keys-")  # 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(Fernet.generate_key().decode() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with suppress(FileExistsError):  # another process was first: use its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise ImproperlyConfigured(f"{path} holds no photo key: restore it from a backup (or set FACEREC_PHOTO_KEYS).")
    return keys
