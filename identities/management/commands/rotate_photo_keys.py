"""rotate_photo_keys: re-encrypt every enrollment photo and crop under the current (first) photo key.

1. Put the new key first in FACEREC_PHOTO_KEYS, keep the old ones after it, restart web
   and workers (they now write with the new key and still read the old files).
2. `manage.py rotate_photo_keys` re-encrypts each file in place (temporary file, fsync,
   rename). Files the new key already opens are skipped, so a run that was interrupted
   just runs again. Plain images from before encryption are encrypted too.
3. When `--check` says every file is current, drop the old keys and restart.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit import services as audit
from identities import storage
from identities.models import EnrollmentImage, private_storage

PROGRESS_EVERY = 100
SHOW_IDS = 50


class Command(BaseCommand):
    help = "Re-encrypt every enrollment photo and crop under the current FACEREC_PHOTO_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="only report; exit 1 when a file is not under the current key or cannot be read")

    def handle(self, *args, check: bool, **options):
        if not settings.FACEREC_PHOTO_ENCRYPTION:  # rotating would encrypt the plain files the site chose
            raise CommandError("FACEREC_PHOTO_ENCRYPTION is off: new photos are stored as plain images, so nothing "
                               "is rotated (files encrypted earlier are still read with FACEREC_PHOTO_KEYS)")
        ids = list(EnrollmentImage.objects.order_by("pk").values_list("pk", flat=True))
        found: dict[str, list[str]] = defaultdict(list)  # outcome -> ["12", "12 crop", ...]
        for done, pk in enumerate(ids, start=1):
            for outcome, label in (self.check_photo(pk) if check else self.rotate_photo(pk)):
                found[outcome].append(label)
            if done % PROGRESS_EVERY == 0 or done == len(ids):
                self.stdout.write(f"{done}/{len(ids)} photos {'checked' if check else 'done'}")
        self.report(found, check=check)

    def rotate_photo(self, pk: int) -> list[tuple[str, str]]:
        """Both files of one photo, under its row lock: an erasure running meanwhile waits for
        this photo (or has already deleted the row, and the photo is skipped), so a file it
        deletes is never written back."""
        with transaction.atomic():
            row = EnrollmentImage.objects.select_for_update().filter(pk=pk).values("file", "crop").first()
            return [(self.rotate_file(name), _label(pk, field)) for field, name in _files(row)]

    def rotate_file(self, name: str) -> str:
        """One file: its outcome (storage.ROTATED, ENCRYPTED, CURRENT, MISSING or UNDECRYPTABLE)."""
        try:
            return private_storage.rotate(name)
        except FileNotFoundError:
            return storage.MISSING
        except storage.PhotoUndecryptable:
            return storage.UNDECRYPTABLE

    def check_photo(self, pk: int) -> list[tuple[str, str]]:
        row = EnrollmentImage.objects.filter(pk=pk).values("file", "crop").first()
        return [(private_storage.key_state(name), _label(pk, field)) for field, name in _files(row)]

    def report(self, found: dict[str, list[str]], *, check: bool) -> None:
        counts = {outcome: len(labels) for outcome, labels in found.items()}
        if check:
            parts = [f"{counts.get(storage.CURRENT, 0)} under the current key",
                     f"{counts.get(storage.STALE, 0)} under an older key",
                     f"{counts.get(storage.PLAINTEXT, 0)} not encrypted (from before encryption)"]
        else:
            parts = [f"{counts.get(storage.ROTATED, 0)} rotated to the current key",
                     f"{counts.get(storage.ENCRYPTED, 0)} encrypted (were plain images)",
                     f"{counts.get(storage.CURRENT, 0)} already current"]
        parts += [f"{counts.get(storage.MISSING, 0)} missing", f"{counts.get(storage.UNDECRYPTABLE, 0)} undecryptable"]
        self.stdout.write("photo files: " + ", ".join(parts))
        for outcome, what in ((storage.MISSING, "missing"), (storage.UNDECRYPTABLE, "undecryptable"),
                              (storage.STALE, "under an older key"), (storage.PLAINTEXT, "not encrypted")):
            if found.get(outcome):
                self.stdout.write(f"  {what}: photo {_shown(found[outcome])}")
        if not check and (counts.get(storage.ROTATED) or counts.get(storage.ENCRYPTED)
                          or counts.get(storage.UNDECRYPTABLE)):
            audit.record(action="photo.rotate_keys", details={
                outcome: counts.get(outcome, 0) for outcome in (storage.ROTATED, storage.ENCRYPTED, storage.CURRENT,
                                                                 storage.MISSING, storage.UNDECRYPTABLE)})
        if found.get(storage.UNDECRYPTABLE):
            raise CommandError(f"{counts[storage.UNDECRYPTABLE]} photo file(s) cannot be decrypted with any of "
                               f"FACEREC_PHOTO_KEYS: photo {_shown(found[storage.UNDECRYPTABLE])}")
        if check and (found.get(storage.STALE) or found.get(storage.PLAINTEXT)):
            raise CommandError("some photo files are not under the current key: run rotate_photo_keys")
        self.stdout.write(self.style.SUCCESS("every photo file is under the current key")
                          if not found.get(storage.MISSING) else "the other photo files are under the current key")


def _files(row: dict | None) -> list[tuple[str, str]]:
    """(field, name) of a photo row's stored files; none when the row is gone (erased meanwhile)."""
    return [(field, row[field]) for field in ("file", "crop") if row[field]] if row else []


def _label(pk: int, field: str) -> str:
    return str(pk) if field == "file" else f"{pk} (crop)"


def _shown(labels: list[str]) -> str:
    more = f" and {len(labels) - SHOW_IDS} more" if len(labels) > SHOW_IDS else ""
    return ", ".join(labels[:SHOW_IDS]) + more
