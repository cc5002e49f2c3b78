"""Sending a video's files once a view has checked who may see them: its exports, and a track's face
crop (only to readers of that person, videos.selectors).

The crop is stored as enrollment crops are (identities' private storage, encrypted) and sent the same
way (identities.media). `Cache-Control: private, no-store`.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse

from identities.media import private_file_response
from videos import exports, selectors
from videos.models import Video, VideoTrack


def crop_response(track: VideoTrack) -> HttpResponse:
    """A track's face crop (processing stores it as PNG), sent as enrollment crops are."""
    return private_file_response(track.crop, content_type="image/png", label=f"crop of {track}")


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
