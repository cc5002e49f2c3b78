"""REST API of videos (/api/v1/videos/): upload a video for identification as a worker job, follow it,
read its tracks and exports (capability `identify`).

Thin views: parse, call videos.services.upload or a selector, shape the answer. A user reads the
videos they uploaded; holders of `view_identities` read every video (videos.selectors). Errors leave
as core.api's one JSON shape.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from core.api import IgnoreClientContentNegotiation, Pagination, StrictInputSerializer, error_responses, \
    get_visible_or_404, paginated_response
from core.upload_limits import MaxUploadSizeHandler, large_upload
from videos import exports, selectors
from videos.media import EXPORTS, crop_response, export_response
from videos.models import Video, VideoTrack
from videos.services import upload

LIMIT_SETTING = "FACEREC_MAX_VIDEO_BYTES"


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url) if request else url


def visible_video(request, video_id: int) -> Video:
    return get_visible_or_404(selectors.visible_videos(request.user), video_id, "video")


class VideoProgressSerializer(serializers.Serializer):
    percent = serializers.FloatField(help_text="Share of the video's duration decoded so far, 0-100.")
    frames_decoded = serializers.IntegerField(help_text="Sampled frames decoded so far.")
    faces_found = serializers.IntegerField(help_text="Faces detected so far, over all sampled frames.")

    class Meta:
        ref_name = "VideoProgress"


class VideoSummarySerializer(serializers.Serializer):
    duration_s = serializers.FloatField(allow_null=True)
    sample_fps = serializers.FloatField(allow_null=True, help_text="Frames sampled per second of video.")
    frames_decoded = serializers.IntegerField()
    faces_found = serializers.IntegerField()
    tracks = serializers.IntegerField(help_text="Faces followed across frames: one per person per appearance.")
    people_identified = serializers.IntegerField(help_text="Distinct enrolled people among the tracks.")
    model_version = serializers.CharField(help_text="Embedding model the tracks were decided with.")
    threshold = serializers.FloatField(allow_null=True, help_text="The identify threshold applied.")

    class Meta:
        ref_name = "VideoSummary"


class VideoOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="This video in the API: poll it until the status is done "
                                                      "or failed.")
    status = serializers.ChoiceField(choices=Video.Status.choices, help_text="pending -> processing -> done or "
                                                                             "failed.")
    original_name = serializers.CharField()
    size_bytes = serializers.IntegerField()
    container = serializers.CharField()
    codec = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    progress = serializers.SerializerMethodField()
    error_code = serializers.CharField(help_text="Why the job failed, machine-readable (not_a_video, "
                                                 "no_video_stream, no_frames, resolution_too_large, corrupt, "
                                                 "truncated, ...); empty otherwise.")
    error_detail = serializers.CharField()
    summary = serializers.SerializerMethodField()
    tracks_url = serializers.SerializerMethodField()
    exports = serializers.SerializerMethodField(help_text="Format (json, csv, vtt) -> URL of the export.")
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Video"

    def get_url(self, video: Video) -> str:
        return _absolute(self.context.get("request"), reverse("videos_api:video-detail", args=[video.pk]))

    @extend_schema_field(VideoProgressSerializer)
    def get_progress(self, video: Video) -> dict:
        share = 1.0 if video.status == Video.Status.DONE else min(max(video.progress, 0.0), 1.0)
        return {"percent": round(share * 100, 1), "frames_decoded": video.frames_decoded,
                "faces_found": video.faces_found}

    @extend_schema_field(VideoSummarySerializer)
    def get_summary(self, video: Video) -> dict:
        return VideoSummarySerializer(selectors.video_summary(video)).data

    def get_tracks_url(self, video: Video) -> str:
        return _absolute(self.context.get("request"), reverse("videos_api:video-tracks", args=[video.pk]))

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_exports(self, video: Video) -> dict:
        request = self.context.get("request")
        return {fmt: _absolute(request, reverse(f"videos_api:video-export-{fmt}", args=[video.pk]))
                for fmt in EXPORTS}


class TrackOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1, 2, ... in order of first appearance.")
    identity_id = serializers.IntegerField(allow_null=True, help_text="The person; null: unknown.")
    label = serializers.CharField(help_text="The person's name, or `unknown`.")
    score = serializers.FloatField(allow_null=True, help_text="The best candidate's calibrated score.")
    threshold = serializers.FloatField(allow_null=True, help_text="The identify threshold applied.")
    decided_by = serializers.CharField(help_text="`score+classifier` or `score`, as identify answers.")
    reason = serializers.CharField(help_text="Why `unknown` (below_threshold, classifier_disagrees, "
                                             "empty_gallery, liveness_failed, identity_erased: the person was erased while the job "
                                             "ran); empty when identified.")
    first_seen_s = serializers.FloatField()
    first_seen = serializers.CharField(help_text="HH:MM:SS.mmm")
    last_seen_s = serializers.FloatField()
    last_seen = serializers.CharField(help_text="HH:MM:SS.mmm")
    frames_seen = serializers.IntegerField(help_text="Sampled frames the face was found in.")
    best_time_s = serializers.FloatField(help_text="When the best frame (the one decided on) was taken.")
    best_box = serializers.ListField(child=serializers.FloatField(), help_text="[x1, y1, x2, y2] of the face in "
                                                                               "the best frame, in video pixels.")
    has_crop = serializers.BooleanField(help_text="An identified track keeps its best face crop (encrypted); "
                                                  "unknown people's crops are never kept.")
    crop_url = serializers.SerializerMethodField(help_text="The crop, for readers of that person; null "
                                                           "otherwise.")

    class Meta:
        ref_name = "VideoTrack"

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_crop_url(self, row: dict) -> str | None:
        if row["number"] not in self.context.get("readable_crops", ()):
            return None
        url = reverse("videos_api:video-track-crop", args=[self.context["video_id"], row["number"]])
        return _absolute(self.context.get("request"), url)


@large_upload(LIMIT_SETTING)
class VideoListApi(APIView):
    permission_classes = [requires("identify")]
    parser_classes = [MultiPartParser]
    pagination_class = Pagination

    class InputSerializer(StrictInputSerializer):
        video = serializers.FileField(allow_empty_file=True, use_url=False, help_text=(
            "The video file (MP4, MOV, MKV, WebM, AVI: anything FFmpeg decodes), at most FACEREC_MAX_VIDEO_BYTES "
            "(413 past it, while it is received). Deleted as soon as its job ends."))

        class Meta:
            ref_name = "VideoUpload"

    def initialize_request(self, request, *args, **kwargs):
        # Refuses a file past FACEREC_MAX_VIDEO_BYTES while it is received, before it is spooled (413).
        request.upload_handlers.insert(0, MaxUploadSizeHandler(request, limit_setting=LIMIT_SETTING))
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(summary="List videos", description="Newest first. The caller's own uploads; every video for "
                                                      "holders of view_identities.",
                   responses={200: VideoOutputSerializer(many=True), **error_responses(401, 403, 404)})
    def get(self, request):
        return paginated_response(request=request, view=self, queryset=selectors.visible_videos(request.user),
                                  serializer_class=VideoOutputSerializer)

    @extend_schema(summary="Upload a video to identify the people in it",
                   description="What is not a video (a photo, a sound file, noise) is refused at once: 415 "
                               "`unsupported_media_type`. A video refused from its header is a 400 with the reason "
                               "as its code (`resolution_too_large`: more than FACEREC_MAX_IMAGE_PIXELS a frame; "
                               "`no_frames`). The video is queued for the worker: poll `url` until its status is "
                               "done or failed; a file that fails to decode part-way ends the job `failed` with "
                               "its reason.",
                   request={"multipart/form-data": InputSerializer},
                   responses={202: VideoOutputSerializer, **error_responses(400, 401, 403, 413, 415)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        video = upload.upload_video(user=request.user, uploaded_file=data.validated_data["video"])
        return Response(VideoOutputSerializer(video, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


class VideoDetailApi(APIView):
    permission_classes = [requires("identify")]

    @extend_schema(summary="A video: state, progress, failure reason, summary",
                   responses={200: VideoOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, video_id: int):
        return Response(VideoOutputSerializer(visible_video(request, video_id), context={"request": request}).data)


class VideoTracksApi(APIView):
    permission_classes = [requires("identify")]
    pagination_class = Pagination

    @extend_schema(summary="The tracks of a video", description="In order of first appearance.",
                   responses={200: TrackOutputSerializer(many=True), **error_responses(401, 403, 404)})
    def get(self, request, video_id: int):
        video = visible_video(request, video_id)
        paginator = self.pagination_class()
        tracks = paginator.paginate_queryset(selectors.video_tracks(video), request, view=self)
        rows = [exports.row_dict(selectors.track_row(track, threshold=video.threshold)) for track in tracks]
        context = {"request": request, "video_id": video.pk,
                   "readable_crops": selectors.readable_crop_numbers(request.user, video)}
        return paginator.get_paginated_response(TrackOutputSerializer(rows, many=True, context=context).data)


def _export_api(fmt: str, summary: str, media_type: str):
    class VideoExportApi(APIView):
        permission_classes = [requires("identify")]
        content_negotiation_class = IgnoreClientContentNegotiation

        @extend_schema(operation_id=f"videos_export_{fmt}", summary=summary,
                       description="One row per track, in order of first appearance (empty until the job is done).",
                       responses={(200, media_type): OpenApiResponse(OpenApiTypes.STR if fmt != "json"
                                                                     else OpenApiTypes.OBJECT),
                                  **error_responses(401, 403, 404)})
        def get(self, request, video_id: int):
            return export_response(visible_video(request, video_id), fmt)

    VideoExportApi.__name__ = VideoExportApi.__qualname__ = f"Video{fmt.capitalize()}ExportApi"
    return VideoExportApi


VideoJsonExportApi = _export_api("json", "The video's tracks as JSON (with its summary)", "application/json")
VideoCsvExportApi = _export_api("csv", "The video's tracks as CSV", "text/csv")
VideoVttExportApi = _export_api("vtt", "Who is on screen, as WebVTT subtitles (one cue per track)", "text/vtt")


class VideoTrackCropApi(APIView):
    permission_classes = [requires("identify")]
    content_negotiation_class = IgnoreClientContentNegotiation

    @extend_schema(operation_id="videos_track_crop", summary="An identified track's best face crop",
                   description="Only for readers of that person who may see faces (404 otherwise, as for a "
                               "track without a crop: unknown people's crops are never kept).",
                   responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
                              **error_responses(401, 403, 404)})
    def get(self, request, video_id: int, number: int):
        track: VideoTrack | None = selectors.readable_crop_track(request.user, visible_video(request, video_id),
                                                                 number)
        if track is None:
            raise Http404(f"track {number} of video #{video_id} has no crop you may see")
        return crop_response(track)
