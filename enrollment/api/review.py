"""Review through the API: approve or reject photos (one or many), pick the face in a group photo."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from core.api import StrictInputSerializer, error_responses, get_visible_or_404
from enrollment import services
from enrollment.api.photos import PhotoOutputSerializer
from identities.models import EnrollmentImage


class ReviewedSerializer(serializers.Serializer):
    photos = PhotoOutputSerializer(many=True)

    class Meta:
        ref_name = "PhotosReviewed"


def _reviewed(request, photos) -> Response:
    return Response(ReviewedSerializer({"photos": photos}, context={"request": request}).data)


_REVIEW_ERRORS = error_responses(400, 401, 403, 404, 409)


class PhotoIdsSerializer(StrictInputSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=500)

    class Meta:
        ref_name = "PhotoApprove"


class PhotoRejectManySerializer(PhotoIdsSerializer):
    reason = serializers.CharField(max_length=1000)

    class Meta:
        ref_name = "PhotoReject"


class BulkReviewApi(APIView):
    """Many photos reviewed at once, all or nothing: a subclass names its input and the service it calls."""

    permission_classes = [requires("review")]
    InputSerializer: type[PhotoIdsSerializer] = PhotoIdsSerializer

    def review(self, data: dict, *, actor) -> list[EnrollmentImage]:
        raise NotImplementedError

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _reviewed(request, self.review(data.validated_data, actor=request.user))


@extend_schema_view(post=extend_schema(
    operation_id="photos_approve_many", summary="Approve photos awaiting review", request=PhotoIdsSerializer,
    description="All or nothing. Their embeddings become active templates.",
    responses={200: ReviewedSerializer, **_REVIEW_ERRORS}))
class PhotoApproveBulkApi(BulkReviewApi):
    def review(self, data: dict, *, actor) -> list[EnrollmentImage]:
        return services.approve_photos(image_ids=data["ids"], actor=actor)


@extend_schema_view(post=extend_schema(
    operation_id="photos_reject_many", summary="Reject photos (awaiting review or approved)",
    request=PhotoRejectManySerializer, description="All or nothing. Their templates stop matching.",
    responses={200: ReviewedSerializer, **_REVIEW_ERRORS}))
class PhotoRejectBulkApi(BulkReviewApi):
    InputSerializer = PhotoRejectManySerializer

    def review(self, data: dict, *, actor) -> list[EnrollmentImage]:
        return services.reject_photos(image_ids=data["ids"], reason=data["reason"], actor=actor)


class PhotoApproveApi(APIView):
    permission_classes = [requires("review")]

    @extend_schema(operation_id="photos_approve", summary="Approve one photo", request=None,
                   responses={200: PhotoOutputSerializer, **_REVIEW_ERRORS})
    def post(self, request, photo_id: int):
        photo = get_visible_or_404(EnrollmentImage.objects.all(), photo_id, "photo")
        [photo] = services.approve_photos(image_ids=[photo.pk], actor=request.user)
        return Response(PhotoOutputSerializer(photo, context={"request": request}).data)


class PhotoRejectApi(APIView):
    permission_classes = [requires("review")]

    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(max_length=1000)

        class Meta:
            ref_name = "PhotoRejectOne"

    @extend_schema(operation_id="photos_reject", summary="Reject one photo", request=InputSerializer,
                   responses={200: PhotoOutputSerializer, **_REVIEW_ERRORS})
    def post(self, request, photo_id: int):
        photo = get_visible_or_404(EnrollmentImage.objects.all(), photo_id, "photo")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        [photo] = services.reject_photos(image_ids=[photo.pk], reason=data.validated_data["reason"],
                                         actor=request.user)
        return Response(PhotoOutputSerializer(photo, context={"request": request}).data)


class PhotoFaceApi(APIView):
    permission_classes = [requires("review")]

    class InputSerializer(StrictInputSerializer):
        index = serializers.IntegerField(min_value=0, help_text="The face in the photo's `faces` that is the "
                                                                "person's.")

        class Meta:
            ref_name = "PhotoChooseFace"

    @extend_schema(operation_id="photos_choose_face", summary="Pick the person's face in a group photo",
                   description="The quality checks, liveness, crop and template are redone for that face; the "
                               "photo awaits review again (or is rejected for that face's quality). Audited.",
                   request=InputSerializer, responses={200: PhotoOutputSerializer, **_REVIEW_ERRORS})
    def post(self, request, photo_id: int):
        photo = get_visible_or_404(EnrollmentImage.objects.all(), photo_id, "photo")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photo = services.choose_face(image_id=photo.pk, index=data.validated_data["index"], actor=request.user)
        return Response(PhotoOutputSerializer(photo, context={"request": request}).data)
