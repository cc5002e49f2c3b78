"""The video pages (capability `identify`): the list with the upload form, and one video's progress,
timeline, tracks and exports.

Thin: the form parses, videos.services.upload writes, videos.selectors reads. A refused upload is
shown beside the field, with the refusal's status (413, 415, 400), never a 500. The page of a video
whose job runs refreshes itself (a meta refresh: the CSP allows no inline script).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import capability_required
from core.errors import DomainError
from core.forms import add_domain_error
from core.upload_limits import large_upload
from videos import exports, selectors
from videos.exports import TrackRow
from videos.forms import VideoUploadForm
from videos.media import EXPORTS, crop_response, export_response
from videos.models import Video
from videos.services import upload

PAGE_SIZE = 25
REFRESH_EVERY_S = 3
MIN_BAR_PERCENT = 0.6  # a track seen in one sample still shows as a bar


@large_upload("FACEREC_MAX_VIDEO_BYTES")
@capability_required("identify")
@require_http_methods(["GET", "POST"])
def video_list(request):
    form = VideoUploadForm(request.POST, request.FILES) if request.method == "POST" else VideoUploadForm()
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                video = upload.upload_video(user=request.user, uploaded_file=form.cleaned_data["video"])
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(request, f"Video #{video.pk} is queued; this page follows its progress.")
                return redirect("videos:detail", pk=video.pk)
        else:
            status = 413 if form.too_large() else 400
    page = Paginator(selectors.visible_videos(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "videos/video_list.html", {"form": form, "page": page}, status=status)


@dataclass(frozen=True)
class TimelineBar:
    row: TrackRow
    start: str  # timecodes: first seen, last seen, the bar's end (the last sample's period later)
    last: str
    end: str
    left_percent: float
    width_percent: float
    crop_readable: bool


def timeline_span_s(rows: list[TrackRow], *, duration_s: float | None, sample_fps: float | None) -> float:
    """What the timeline's width stands for: the duration, else (a header without one) the last track's end."""
    ends = (exports.track_end_s(row, sample_fps=sample_fps, duration_s=duration_s) for row in rows)
    return duration_s or max(ends, default=0.0) or 1.0


def timeline(rows: list[TrackRow], *, duration_s: float | None, sample_fps: float | None,
             readable_crops: set[int]) -> list[TimelineBar]:
    """One bar per track across the video's duration, as CSS offsets and widths in percent."""
    ends = {row.number: exports.track_end_s(row, sample_fps=sample_fps, duration_s=duration_s) for row in rows}
    span = timeline_span_s(rows, duration_s=duration_s, sample_fps=sample_fps)
    bars = []
    for row in rows:
        left = min(max(100.0 * row.first_seen_s / span, 0.0), 100.0 - MIN_BAR_PERCENT)
        width = min(max(100.0 * (ends[row.number] - row.first_seen_s) / span, MIN_BAR_PERCENT), 100.0 - left)
        bars.append(TimelineBar(row=row, start=exports.timecode(row.first_seen_s),
                                last=exports.timecode(row.last_seen_s), end=exports.timecode(ends[row.number]),
                                left_percent=round(left, 3), width_percent=round(width, 3),
                                crop_readable=row.number in readable_crops))
    return bars


@capability_required("identify")
@require_GET
def video_detail(request, pk: int):
    video = get_object_or_404(selectors.visible_videos(request.user), pk=pk)
    running = video.status in (Video.Status.PENDING, Video.Status.PROCESSING)
    rows = selectors.track_rows(video)
    bars = timeline(rows, duration_s=video.duration_s, sample_fps=video.sample_fps,
                    readable_crops=selectors.readable_crop_numbers(request.user, video))
    percent = 100 if video.status == Video.Status.DONE else round(min(max(video.progress, 0.0), 1.0) * 100)
    return render(request, "videos/video_detail.html", {
        "video": video, "summary": selectors.video_summary(video), "bars": bars, "percent": percent,
        "refresh_s": REFRESH_EVERY_S if running else None, "running": running, "formats": list(EXPORTS),
        "end_timecode": exports.timecode(timeline_span_s(rows, duration_s=video.duration_s,
                                                         sample_fps=video.sample_fps))})


@capability_required("identify")
@require_GET
def video_export(request, pk: int, fmt: str):
    if fmt not in EXPORTS:
        raise Http404(f"no export {fmt!r}")
    return export_response(get_object_or_404(selectors.visible_videos(request.user), pk=pk), fmt)


@capability_required("identify")
@require_GET
def track_crop(request, pk: int, number: int):
    video = get_object_or_404(selectors.visible_videos(request.user), pk=pk)
    track = selectors.readable_crop_track(request.user, video, number)
    if track is None:
        raise Http404("no crop you may see")
    return crop_response(track)
