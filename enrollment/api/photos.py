"""Enrollment photos through the API: upload, list, read (never the bytes or a file URL)."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import Pagination, StrictInputSerializer, error_responses, filtered_page, get_visible_or_404
from core.upload_limits import MaxUploadSizeHandler
from enrollment import services
from enrollment.api.access import CanReadIdentities, CanReadOrChangeIdentity, visible_identity
from identities import selectors
from identities.models import EnrollmentImage, Identity

MAX_PHOTOS_PER_UPLOAD = settings.FACEREC_MAX_PHOTOS_PER_UPLOAD  # read once: the schema names it


class PhotoFaceSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                help_text="[x1, y1, x2, y2] in image pixels.")
    probability = serializers.FloatField(help_text="The detector's confidence.")

    class Meta:
        ref_name = "PhotoFace"


class PhotoOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.IntegerField(source="identity_id")
    status = serializers.ChoiceField(choices=EnrollmentImage.Status.choices)
    content_type = serializers.CharField()
    rejection_reason = serializers.CharField(help_text="Machine-readable code, empty unless rejected or failed.")
    rejection_detail = serializers.CharField()
    face_box = serializers.ListField(child=serializers.FloatField(), allow_null=True,
                                     help_text="[x1, y1, x2, y2] in image pixels: the face checked and embedded.")
    detection_probability = serializers.FloatField(allow_null=True)
    faces = PhotoFaceSerializer(many=True, help_text="Every significant face when the photo shows several "
                                                     "(empty otherwise); a reviewer may pick another one "
                                                     "(POST .../face/).")
    face_index = serializers.IntegerField(allow_null=True, help_text="The person's face in `faces`: preselected "
                                                                     "(the one most like the person's other "
                                                                     "photos, else the largest near the centre) "
                                                                     "or picked by a reviewer.")
    quality = serializers.SerializerMethodField(
        help_text="Quality figures; `possible_duplicate`: a similar face of another identity (its id and name only "
                  "for readers who may see that person), or null; `liveness`: {score, is_live} when checked.")
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Photo"

    def get_quality(self, photo: EnrollmentImage) -> dict:
        quality = dict(photo.quality or {})
        duplicate = quality.get("possible_duplicate")
        if isinstance(duplicate, dict) and duplicate.get("identity_id") is not None:
            # The person may since be erased, or not the reader's to see: then only that there is one.
            name = self._current_name(duplicate["identity_id"])
            quality["possible_duplicate"] = {**duplicate, "display_name": name,
                                             "identity_id": duplicate["identity_id"] if name is not None else None}
        return quality

    def _current_name(self, identity_id: int) -> str | None:
        request = self.context.get("request")
        names = self.context.setdefault("_names", {})
        if identity_id not in names:
            identities = selectors.listed_identities(request.user) if request else Identity.objects.none()
            names[identity_id] = (identities.filter(pk=identity_id, status=Identity.Status.ACTIVE)
                                  .values_list("display_name", flat=True).first())
        return names[identity_id]


class PhotoCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.IntegerField(source="identity_id")
    status = serializers.CharField()
    status_url = serializers.SerializerMethodField(help_text="Poll this until the status is no longer pending "
                                                             "or processing.")

    job_url = serializers.SerializerMethodField(help_text="Status of the processing job (Celery).")

    class Meta:
        ref_name = "PhotoCreated"

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    def get_status_url(self, photo: EnrollmentImage) -> str:
        return self._absolute(reverse("identities_api:photo-detail", args=[photo.pk]))

    def get_job_url(self, photo: EnrollmentImage) -> str:
        return self._absolute(reverse("api-job-status", args=[services.processing_task_id(photo.pk)]))


class IdentityPhotosApi(APIView):
    permission_classes = [CanReadOrChangeIdentity]
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        photos = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True, use_url=False), required=False,
            max_length=MAX_PHOTOS_PER_UPLOAD,
            help_text=f"One or more image files (JPEG, PNG, WebP, BMP, PGM/PPM), at most "
                      f"{MAX_PHOTOS_PER_UPLOAD} per upload.")
        face_box = serializers.CharField(
            required=False, help_text="The person's face in a photo that shows several, as `x1,y1,x2,y2` in the "
                                      "photo's pixels (a JSON list works too); with one photo per upload. The face "
                                      "the detector finds there is checked and embedded; none there: the photo is "
                                      "rejected (`face_not_found`).")

        class Meta:
            ref_name = "PhotoUpload"

        def validate_face_box(self, value: str) -> list[float]:
            try:
                box = [float(v) for v in value.strip().strip("[]").split(",")]
            except ValueError:
                raise serializers.ValidationError("four numbers: x1,y1,x2,y2") from None
            if len(box) != 4:
                raise serializers.ValidationError("four numbers: x1,y1,x2,y2")
            return box

        def validate(self, attrs):
            if "face_box" in attrs and len(attrs.get("photos", [])) != 1:
                raise serializers.ValidationError({"face_box": ["names a face in one photo: upload that photo "
                                                                "alone"]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        photos = PhotoCreatedSerializer(many=True)

        class Meta:
            ref_name = "PhotoUploadAccepted"

    def initialize_request(self, request, *args, **kwargs):
        request.upload_handlers.insert(0, MaxUploadSizeHandler(request))
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(summary="Upload enrollment photos",
                   description="All or nothing: one unusable file refuses the upload. Photos are queued for "
                               "face detection, quality checks and embedding, then await review.",
                   request={"multipart/form-data": InputSerializer},
                   responses={202: OutputSerializer, **error_responses(400, 401, 403, 404, 409, 410, 413, 415)})
    def post(self, request, identity_id: int):
        identity = visible_identity(request, self, identity_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Each file was held to FACEREC_MAX_UPLOAD_BYTES while it was received (MaxUploadSizeHandler).
        face_box = data.validated_data.get("face_box")
        uploads = [services.Upload(name=file.name, data=file.read(), face_box=face_box)
                   for file in data.validated_data.get("photos", [])]
        photos = services.enroll_photos(identity=identity, uploads=uploads, actor=request.user)
        out = self.OutputSerializer({"photos": photos}, context={"request": request})
        return Response(out.data, status=status.HTTP_202_ACCEPTED)


class PhotoListApi(APIView):
    permission_classes = [CanReadIdentities]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        identity = serializers.IntegerField(required=False, min_value=1, source="identity_id")
        status = serializers.ChoiceField(choices=EnrollmentImage.Status.choices, required=False)

        class Meta:
            ref_name = "PhotoFilter"

    @extend_schema(parameters=[FilterSerializer], responses={200: PhotoOutputSerializer(many=True),
                                                             **error_responses(400, 401, 403, 404)})
    def get(self, request):
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=partial(selectors.listed_photos, request.user),
                             serializer_class=PhotoOutputSerializer)


class PhotoDetailApi(APIView):
    permission_classes = [CanReadOrChangeIdentity]

    @extend_schema(responses={200: PhotoOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, photo_id: int):
        photo = get_visible_or_404(selectors.listed_photos(request.user).select_related("identity"), photo_id, "photo")
        self.check_object_permissions(request, photo)
        return Response(PhotoOutputSerializer(photo, context={"request": request}).data)
