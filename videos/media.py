"""Sending a video's files once a view has checked who may see them: its exports, and a track's face
crop (only to readers of that person, videos.selectors).

The crop is small and stored encrypted (identities' private storage), so Django decrypts and sends it;
its type is sniffed from the bytes. `Cache-Control: private, no-store`, as for enrollment photos.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpResponse

from identities.storage import PhotoUndecryptable
from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.images import sniff_content_type
from videos import exports, selectors
from videos.models import Video, VideoTrack

log = logging.getLogger(__name__)


def crop_response(track: VideoTrack) -> HttpResponse:
    if not track.crop:
        raise Http404("no such file")
    try:
        with track.crop.open("rb") as stored:
            data = stored.read()
    except FileNotFoundError:
        raise Http404("no such file") from None
    except PhotoUndecryptable as exc:
        # A key was removed before `rotate_photo_keys` re-encrypted this file: the admin's to fix.
        log.error("crop of %s: %s is undecryptable", track, exc.name)
        response = HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        content_type = sniff_content_type(data)
    except ImageRejected:
        content_type = "application/octet-stream"  # never something a browser would interpret
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    return response


EXPORTS = {"json": "application/json", "csv": "text/csv; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}


def export_response(video: Video, fmt: str) -> HttpResponse:
    """The export `fmt` of a video as a download (the pages and the API send the same)."""
    rows = selectors.track_rows(video)
    if fmt == "json":
        body = exports.as_json(selectors.video_summary(video), rows)
    elif fmt == "csv":
        body = exports.as_csv(rows)
    elif fmt == "vtt":
        body = exports.as_webvtt(rows, sample_fps=video.sample_fps, duration_s=video.duration_s)
    else:
        raise Http404(f"no export {fmt!r}")
    response = HttpResponse(body, content_type=EXPORTS[fmt])
    response["Content-Disposition"] = f'attachment; filename="video-{video.pk}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response
