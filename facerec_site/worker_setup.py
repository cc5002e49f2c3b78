"""What a worker shares with the site it works for, checked before it takes any work.

A worker on another machine without the photo keys, with other keys or another SECRET_KEY,
without the model weights or without a writable MEDIA_ROOT fails every job it takes while
the site looks healthy. The site records fingerprints of its settings when it migrates
(`SharedSetting`); every worker compares its own when it starts (Celery's `worker_init`,
whichever command started it) and refuses to start on a difference, naming what to copy.
The fingerprints reveal nothing: an HMAC of SECRET_KEY, a token only the photo keys
decrypt, the weights' version and digest.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Collection
from pathlib import Path

from django.conf import settings
from django.db import OperationalError, ProgrammingError, connections
from django.utils.crypto import salted_hmac

from facerec_site.health import weight_files
from facerec_site.models import SharedSetting
from identities.storage import PhotoUndecryptable, decrypt, encrypt
from recognition.pipeline import liveness

log = logging.getLogger(__name__)

_PHOTO_KEY_CHECK = b"facerec photo key check"
SECRET_KEY, PHOTO_KEYS, MODELS = "secret_key", "photo_keys", "models"
# Said once for every problem: where the reference comes from.
_FROM_THE_SITE = "copy it from the web machine's environment or .env (README: Deployment, step 5)"


def _who(role: str) -> str:
    return f"{role} on {socket.gethostname()} (pid {os.getpid()})"


def _secret_fingerprint() -> str:
    return salted_hmac("facerec_site.worker_setup", "secret_key", secret=settings.SECRET_KEY,
                       algorithm="sha256").hexdigest()


def _reads(token: str) -> bool:
    """Do this process's photo keys decrypt the site's token (identities.storage, as photos are read)?"""
    try:
        return decrypt(token.encode()) == _PHOTO_KEY_CHECK
    except PhotoUndecryptable:
        return False


def _models() -> tuple[str | None, str]:
    """(fingerprint of the prepared weights, or None when they are missing; what is wrong). Files only:
    a worker asks this before its pool forks, where CUDA must not be initialised (torch is not asked)."""
    try:
        status = weight_files()
    except Exception as exc:  # the weights' settings themselves are wrong: say so, do not crash
        return None, f"{type(exc).__name__}: {exc}"
    if not status["ok"]:
        return None, status.get("error", "weights not prepared")
    if settings.FACEREC_LIVENESS != "off":
        folder = liveness.weights_dir(settings.FACEREC_MODELS_DIR)
        missing = [spec.filename for spec in liveness.SPECS if not (folder / spec.filename).is_file()]
        if missing:
            return None, (f"liveness weights {', '.join(missing)} missing in {folder} (FACEREC_LIVENESS="
                          f"{settings.FACEREC_LIVENESS}): run `make weights` on this machine")
    return " ".join(str(status.get(key) or "") for key in ("weights", "version", "sha256")).strip(), ""


def record(*, role: str = "migrate") -> None:
    """This process's settings become the deployment's reference (the site's, at migrate).

    The photo-key token is renewed only when these keys read the old one: after a rotation it
    follows the newest key; keys that cannot read it would lock every photo out, and are
    reported instead of recorded."""
    who = _who(role)
    SharedSetting.objects.update_or_create(name=SECRET_KEY, defaults={"fingerprint": _secret_fingerprint(),
                                                                       "recorded_by": who})
    if settings.FACEREC_PHOTO_KEYS:
        token = SharedSetting.objects.filter(name=PHOTO_KEYS).values_list("fingerprint", flat=True).first()
        if token is None or _reads(token):
            SharedSetting.objects.update_or_create(name=PHOTO_KEYS, defaults={
                "fingerprint": encrypt(_PHOTO_KEY_CHECK).decode(), "recorded_by": who})
        else:
            log.error("FACEREC_PHOTO_KEYS cannot read photos encrypted with this deployment's keys: were the "
                      "keys replaced instead of rotated (new key first, old ones after it)?")
    fingerprint, _ = _models()
    if fingerprint:
        SharedSetting.objects.update_or_create(name=MODELS, defaults={"fingerprint": fingerprint,
                                                                      "recorded_by": who})


def record_after_migrate(sender=None, using: str = "default", **kwargs) -> None:
    # A partial migrate (one app, or back to an old state) may leave the table out.
    if using == "default" and SharedSetting._meta.db_table in connections[using].introspection.table_names():
        record(role="migrate")


def problems(queues: Collection[str] | None) -> list[str]:
    """What stops this process from working for the deployment, one line each (empty: ready).

    `queues`: those the worker consumes (None: all); the weights matter only for the gpu queue.
    A reference not recorded yet (a database migrated before this check existed) is recorded
    from this worker's settings."""
    try:
        stored = dict(SharedSetting.objects.values_list("name", "fingerprint"))
    except ProgrammingError:
        return ["the database is not migrated: run `manage.py migrate` on the site first"]
    except OperationalError as exc:  # down for now: jobs will wait and retry; nothing to compare yet
        log.warning("could not compare this worker's settings with the site's (database unreachable: %s)", exc)
        return []
    found: list[str] = []
    secret = _secret_fingerprint()
    if stored.get(SECRET_KEY, secret) != secret:
        found.append(f"SECRET_KEY differs from the site's: {_FROM_THE_SITE}")
    token = stored.get(PHOTO_KEYS)
    if token is not None and not settings.FACEREC_PHOTO_KEYS:
        found.append(f"FACEREC_PHOTO_KEYS is not set, so this worker cannot read the face photos: {_FROM_THE_SITE}")
    elif token is not None and not _reads(token):
        found.append("FACEREC_PHOTO_KEYS differ from the site's: this worker cannot read the photos the site "
                     f"encrypts; {_FROM_THE_SITE} (all keys, current first)")
    if queues is None or settings.GPU_QUEUE in queues:
        fingerprint, error = _models()
        if fingerprint is None:
            found.append(f"model weights are not ready in FACEREC_MODELS_DIR={settings.FACEREC_MODELS_DIR}: {error}")
        elif stored.get(MODELS, fingerprint) != fingerprint:
            found.append(f"model weights differ from the site's ({fingerprint!r} here, {stored[MODELS]!r} there): "
                         "set the same FACEREC_WEIGHTS and run `make weights` on this machine")
    media = Path(settings.MEDIA_ROOT)
    try:
        media.mkdir(parents=True, exist_ok=True)
        writable = os.access(media, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        found.append(f"MEDIA_ROOT={media} is not a writable folder: mount the deployment's shared photo storage there")
    if not found and not {SECRET_KEY, PHOTO_KEYS, MODELS} <= set(stored):
        record(role="first worker")
    return found


def refuse_unless_ready(worker) -> None:
    """Celery's worker_init: a worker whose settings differ from the site's stops here, before it
    consumes anything, with every problem on its own line (and in its log)."""
    consumed = worker.app.amqp.queues.consume_from
    found = problems(set(consumed) if consumed else None)
    if found:
        for problem in found:
            log.error("worker %s: %s", worker.hostname, problem)
        raise SystemExit(f"worker {worker.hostname} refuses to start:\n  - " + "\n  - ".join(found))
