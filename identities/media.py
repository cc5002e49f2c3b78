"""Sending a private stored file (a face photo or crop) once a view has checked who may see it.

Django sends the decrypted bytes, or, with FACEREC_MEDIA_ACCEL_REDIRECT set, answers
with an empty body and `X-Accel-Redirect` so nginx sends the file itself: only for a
file stored as a plain image (FACEREC_PHOTO_ENCRYPTION off, or from before
encryption), since nginx cannot decrypt a Fernet token. Both answers carry
`Cache-Control: private, no-store`.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse

from identities.storage import PhotoUndecryptable

log = logging.getLogger(__name__)


def private_file_response(field: FieldFile, *, content_type: str, label: str) -> HttpResponse:
    """One stored private file: 404 when there is none, 503 when no photo key opens it."""
    if not field:
        raise Http404("no such file")
    try:
        # A legacy plain file that `rotate_photo_keys` encrypts between this check and nginx's read
        # goes out as its token that once: a broken picture, nothing readable without the key.
        if settings.FACEREC_MEDIA_ACCEL_REDIRECT and field.storage.stored_plaintext(field.name):
            response = HttpResponse(content_type=content_type)
            response["X-Accel-Redirect"] = accel_redirect_path(field.name)
        else:
            response = FileResponse(field.open("rb"), content_type=content_type)
    except FileNotFoundError:
        raise Http404("no such file") from None
    except PhotoUndecryptable as exc:
        # A key was removed before `rotate_photo_keys` re-encrypted this file: the admin's to fix.
        log.error("%s: %s is undecryptable", label, exc.name)
        response = HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        return response
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    return response


def accel_redirect_path(name: str) -> str:
    """The nginx-internal URI of a stored file: the prefix, then its storage name (random, see
    identities.models.random_photo_name), relative to MEDIA_ROOT/private/."""
    return settings.FACEREC_MEDIA_ACCEL_REDIRECT.rstrip("/") + "/" + quote(name.lstrip("/"))
