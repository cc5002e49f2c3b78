"""REST API of cameras (/api/v1/cameras/): manage_cameras only. A stream URL goes in; only its redacted
form comes out (no answer, audit entry or log line carries its credentials)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from cameras import selectors
from cameras.models import Camera, Sighting
from cameras.services import cameras as services
from core.api import IgnoreClientContentNegotiation, Pagination, StrictInputSerializer, error_responses, \
    filtered_page, get_visible_or_404
from identities.media import private_file_response


class CameraOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(source="url_display", help_text="Credentials masked (***).")
    enabled = serializers.BooleanField()
    sample_fps = serializers.FloatField()
    min_face_px = serializers.IntegerField()
    liveness = serializers.ChoiceField(choices=Camera.Liveness.choices)
    record_unknown = serializers.BooleanField()
    keep_unknown_crops = serializers.BooleanField()
    state = serializers.ChoiceField(choices=Camera.State.choices)
    state_at = serializers.DateTimeField(allow_null=True)
    last_frame_at = serializers.DateTimeField(allow_null=True)
    fps = serializers.FloatField(allow_null=True, help_text="Frames looked at per second, lately.")
    error_code = serializers.CharField()
    error_detail = serializers.CharField()
    reconnects = serializers.IntegerField()
    watcher = serializers.CharField(source="lease_owner")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Camera"


class CameraInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=2000, help_text="rtsp://, http(s):// (MJPEG, MPEG-TS) or a file path; "
                                                            "credentials in it are stored encrypted.")
    enabled = serializers.BooleanField(required=False, default=True)
    sample_fps = serializers.FloatField(required=False, default=5.0, min_value=0.1, max_value=30)
    min_face_px = serializers.IntegerField(required=False, default=40, min_value=12, max_value=2000)
    liveness = serializers.ChoiceField(choices=Camera.Liveness.choices, required=False, default="off")
    record_unknown = serializers.BooleanField(required=False, default=True)
    keep_unknown_crops = serializers.BooleanField(required=False, default=False)

    class Meta:
        ref_name = "CameraInput"


class CameraUpdateSerializer(CameraInputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    url = serializers.CharField(max_length=2000, required=False)
    enabled = serializers.BooleanField(required=False)
    sample_fps = serializers.FloatField(required=False, min_value=0.1, max_value=30)
    min_face_px = serializers.IntegerField(required=False, min_value=12, max_value=2000)
    liveness = serializers.ChoiceField(choices=Camera.Liveness.choices, required=False)
    record_unknown = serializers.BooleanField(required=False)
    keep_unknown_crops = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "CameraUpdate"


class SightingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    camera_id = serializers.IntegerField()
    identity_id = serializers.IntegerField(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    decided_by = serializers.CharField()
    reason = serializers.CharField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    frames_seen = serializers.IntegerField()
    tracks = serializers.IntegerField()
    liveness = serializers.JSONField(allow_null=True)
    has_crop = serializers.SerializerMethodField()

    class Meta:
        ref_name = "CameraSighting"

    def get_has_crop(self, sighting: Sighting) -> bool:
        return bool(sighting.crop)


def _camera(pk: int) -> Camera:
    return get_visible_or_404(selectors.cameras(), pk, "camera")


class CameraListApi(APIView):
    permission_classes = [requires("manage_cameras")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CameraFilter"

    @extend_schema(summary="List cameras", responses={200: CameraOutputSerializer(many=True),
                                                      **error_responses(400, 401, 403, 404)})
    def get(self, request):
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=selectors.cameras, serializer_class=CameraOutputSerializer)

    @extend_schema(summary="Register a camera", description="400 `invalid_stream_url` for a URL no watcher may "
                                                            "open. Audited as camera.create (URL redacted).",
                   request=CameraInputSerializer, responses={201: CameraOutputSerializer,
                                                             **error_responses(400, 401, 403)})
    def post(self, request):
        data = CameraInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        camera = services.create_camera(**data.validated_data, actor=request.user)
        return Response(CameraOutputSerializer(camera).data, status=status.HTTP_201_CREATED)


class CameraDetailApi(APIView):
    permission_classes = [requires("manage_cameras")]

    @extend_schema(summary="One camera, with its state",
                   responses={200: CameraOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, camera_id: int):
        return Response(CameraOutputSerializer(_camera(camera_id)).data)

    @extend_schema(summary="Change a camera", description="Its watcher picks the change up at its next heartbeat.",
                   request=CameraUpdateSerializer,
                   responses={200: CameraOutputSerializer, **error_responses(400, 401, 403, 404)})
    def patch(self, request, camera_id: int):
        data = CameraUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        camera = services.update_camera(camera=_camera(camera_id), actor=request.user, **data.validated_data)
        return Response(CameraOutputSerializer(camera).data)

    @extend_schema(summary="Delete a camera", description="Its sightings go with it.",
                   responses={204: None, **error_responses(401, 403, 404)})
    def delete(self, request, camera_id: int):
        services.delete_camera(camera=_camera(camera_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SightingListApi(APIView):
    permission_classes = [requires("manage_cameras")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        identified = serializers.BooleanField(required=False, allow_null=True, default=None)

        class Meta:
            ref_name = "CameraSightingFilter"

    @extend_schema(summary="A camera's sightings, latest first",
                   responses={200: SightingOutputSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, camera_id: int):
        camera = _camera(camera_id)
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=lambda **f: selectors.sightings_of(camera, **f),
                             serializer_class=SightingOutputSerializer)


class SightingCropApi(APIView):
    permission_classes = [requires("manage_cameras")]
    content_negotiation_class = IgnoreClientContentNegotiation

    @extend_schema(operation_id="cameras_sighting_crop", summary="A sighting's face crop",
                   description="Identified people's crops, and unknown people's where the camera keeps them (for "
                               "FACEREC_UNKNOWN_CROP_HOURS); 404 for a sighting without one.",
                   responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
                              **error_responses(401, 403, 404)})
    def get(self, request, camera_id: int, sighting_id: int):
        sighting = get_visible_or_404(selectors.sightings_of(_camera(camera_id)), sighting_id, "sighting")
        if not selectors.sees_crop(request.user, sighting):
            raise Http404("no crop you may see")
        return private_file_response(sighting.crop, content_type="image/png", label=f"crop of {sighting}")
