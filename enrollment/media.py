"""Sending an enrollment photo or its crop once a view has checked who may see it, with the content
type sniffed at upload (identities.media sends the file)."""

from __future__ import annotations

from django.http import HttpResponse

from identities.media import private_file_response
from identities.models import EnrollmentImage
from recognition.pipeline.images import CONTENT_TYPES

# What a photo may be served as: the types upload sniffing stores; anything else (a row from
# elsewhere) goes out as bytes a browser will not interpret.
SERVED_CONTENT_TYPES = frozenset(CONTENT_TYPES.values())
CROP_CONTENT_TYPE = "image/png"  # enrollment.services.processing writes crops as PNG


def photo_file_response(image: EnrollmentImage, which: str) -> HttpResponse:
    """The original photo (`which` "original") or its face crop ("crop") of a row the caller may see."""
    if which == "crop":
        field, content_type = image.crop, CROP_CONTENT_TYPE
    else:
        field, content_type = image.file, image.content_type
    if content_type not in SERVED_CONTENT_TYPES:
        content_type = "application/octet-stream"
    return private_file_response(field, content_type=content_type, label=f"photo #{image.pk} ({which})")
