"""REST API of people, consent, enrollment photos, review and the audit log (/api/v1/).

Thin views: parse with a nested input serializer, call one service or selector, shape
the answer with a nested output serializer. Errors become the one JSON error shape in
core.api.exception_handler. Photo bytes and file URLs are never in a payload.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator
from rest_framework.views import APIView

from accounts import roles
from accounts.roles import requires
from core.api import Pagination, StrictInputSerializer, error_responses, get_visible_or_404, paginated_response
from core.errors import DomainError
from core.upload_limits import MaxUploadSizeHandler
from identities import selectors, services
from identities.models import Consent, EnrollmentImage, Identity
from reenrollment.api import ReenrollmentPolicySerializer

MAX_PHOTOS_PER_UPLOAD = settings.FACEREC_MAX_PHOTOS_PER_UPLOAD  # read once: the schema names it


# --- who sees what --------------------------------------------------------------------


def listed_identities(user) -> QuerySet[Identity]:
    """The people this user may read, with their photo counts, in a stable order for pages."""
    # Aggregated querysets drop Meta.ordering: order explicitly for stable pages.
    overview = selectors.identities_overview().select_related("created_by").order_by("display_name", "id")
    return selectors.visible_identities(user, overview)


def visible_photos(user) -> QuerySet[EnrollmentImage]:
    return selectors.visible_photos(user, EnrollmentImage.objects.select_related("uploaded_by", "reviewed_by"))


# Reading people: everyone's (view_identities) or one's own enrollments (enroll).
CanReadIdentities = requires(*selectors.READ_IDENTITIES)


class CanReadOrChangeIdentity(CanReadIdentities):
    """Reads as CanReadIdentities; erasing (DELETE) needs erase; other writes need manage_identities, or
    enroll and the identity being one's own enrollment (checked per object, behind the queryset filter that
    hides other people's)."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method == "DELETE":
            return roles.can(request.user, "erase")
        return (request.method in SAFE_METHODS or roles.can(request.user, "manage_identities")
                or roles.can(request.user, "enroll"))

    def has_object_permission(self, request, view, obj) -> bool:
        identity = obj if isinstance(obj, Identity) else obj.identity
        if request.method in SAFE_METHODS:
            return selectors.may_read_identity(request.user, identity)
        if request.method == "DELETE":
            return roles.can(request.user, "erase")
        return selectors.may_change_identity(request.user, identity)


class IdentityListPermission(CanReadIdentities):
    """Listing as CanReadIdentities; creating a person needs enroll or manage_identities."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return (request.method in SAFE_METHODS or roles.can(request.user, "enroll")
                or roles.can(request.user, "manage_identities"))


def _visible_identity(request, view, identity_id: int) -> Identity:
    identity = get_visible_or_404(listed_identities(request.user), identity_id, "identity")
    view.check_object_permissions(request, identity)
    return identity


# --- identities -----------------------------------------------------------------------

_ATTRIBUTES_HELP = ("Optional attributes recorded with the person's consent, key -> value (e.g. "
                    '{"cohort": "2024"}); evaluation reports break their metrics down per value. At most '
                    f"{services.MAX_ATTRIBUTES} keys of 1-50 letters, digits, '_', '-' or '.'; values are text "
                    f"(numbers become text) of at most {services.MAX_ATTRIBUTE_VALUE_CHARS} characters; an empty "
                    "value drops its key. On update the object replaces the stored one.")


class AttributesField(serializers.DictField):
    """key -> text; parsed by identities.services.clean_attributes, the one place with the rules."""

    # For the schema only (to_internal_value below does the parsing): an empty value drops its key.
    child = serializers.CharField(allow_blank=True, max_length=services.MAX_ATTRIBUTE_VALUE_CHARS)

    def to_internal_value(self, data) -> dict[str, str]:
        try:
            return services.clean_attributes(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code)


_CONTACT_EMAIL_HELP = ("Optional; where re-enrollment and consent-expiry notices go. Blank when there is none "
                       "(and after erasure).")


class ContactEmailField(serializers.EmailField):
    """An email address or blank; parsed by identities.services.clean_contact_email, the one place with the rules."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", services.MAX_CONTACT_EMAIL_CHARS)
        kwargs.setdefault("help_text", _CONTACT_EMAIL_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        try:
            return services.clean_contact_email(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code)


# One rule for erased identities on every endpoint, said in the schema: reads answer 200 with
# `status: erased` and blank fields (the record that an erasure happened stays); changes answer 410.
ERASED_READS = ("An erased identity answers 200 with `status: erased` and its name and details blank; its "
                "consents and photos lists are empty.")
ERASED_CHANGES = "Changing an erased identity (or recording consent or uploading photos for it) answers 410."


class IdentityOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.SerializerMethodField()
    external_ref = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Identity.Status.choices)
    notes = serializers.CharField()
    contact_email = serializers.CharField(help_text=_CONTACT_EMAIL_HELP)
    attributes = AttributesField(help_text=_ATTRIBUTES_HELP)
    erasure_due_at = serializers.DateTimeField(allow_null=True, help_text="Set after consent was withdrawn.")
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    photo_count = serializers.IntegerField()
    approved_count = serializers.IntegerField()
    active_templates = serializers.IntegerField()

    class Meta:
        ref_name = "Identity"

    def get_display_name(self, identity: Identity) -> str | None:
        return identity.display_name if identity.status == Identity.Status.ACTIVE else None


class IdentityDetailOutputSerializer(IdentityOutputSerializer):
    # One policy lookup per identity: in the detail only, not in lists.
    reenrollment_policy = serializers.SerializerMethodField(
        help_text="The re-enrollment policy in force for this identity: the FACEREC_REENROLL_* settings with its "
                  "own overrides (set in the admin). Read-only.")

    class Meta:
        ref_name = "IdentityDetail"

    @extend_schema_field(ReenrollmentPolicySerializer)
    def get_reenrollment_policy(self, identity: Identity) -> dict:
        from reenrollment.services import policy_as_dict

        return ReenrollmentPolicySerializer(policy_as_dict(identity)).data


def _identity_out(identity: Identity) -> dict:
    # Re-read through the overview selector so the counts are there after a write.
    return IdentityDetailOutputSerializer(selectors.identities_overview().select_related("created_by")
                                          .get(pk=identity.pk)).data


class IdentityListApi(APIView):
    permission_classes = [IdentityListPermission]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, help_text="In display name or external ref.")
        status = serializers.ChoiceField(choices=Identity.Status.choices, required=False)

        class Meta:
            ref_name = "IdentityFilter"

    class InputSerializer(StrictInputSerializer):
        display_name = serializers.CharField(max_length=200)
        external_ref = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True,
                                             validators=[UniqueValidator(Identity.objects.all())])
        notes = serializers.CharField(required=False, allow_blank=True, default="")
        contact_email = ContactEmailField(required=False, default="")
        attributes = AttributesField(required=False, default=dict, help_text=_ATTRIBUTES_HELP)

        class Meta:
            ref_name = "IdentityCreate"

    @extend_schema(parameters=[FilterSerializer], responses={200: IdentityOutputSerializer(many=True),
                                                             **error_responses(400, 401, 403, 404)})
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        identities = listed_identities(request.user)
        if search := filters.validated_data.get("search"):
            identities = identities.filter(Q(display_name__icontains=search) | Q(external_ref__icontains=search))
        if identity_status := filters.validated_data.get("status"):
            identities = identities.filter(status=identity_status)
        return paginated_response(request=request, view=self, queryset=identities,
                                  serializer_class=IdentityOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: IdentityDetailOutputSerializer,
                                                       **error_responses(400, 401, 403, 409)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        identity = services.create_identity(**data.validated_data, actor=request.user)
        return Response(_identity_out(identity), status=status.HTTP_201_CREATED)


class IdentityDetailApi(APIView):
    permission_classes = [CanReadOrChangeIdentity]

    class InputSerializer(StrictInputSerializer):
        display_name = serializers.CharField(max_length=200, required=False)
        external_ref = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True,
                                             validators=[UniqueValidator(Identity.objects.all())])
        notes = serializers.CharField(required=False, allow_blank=True)
        contact_email = ContactEmailField(required=False)
        attributes = AttributesField(required=False, help_text=_ATTRIBUTES_HELP)

        class Meta:
            ref_name = "IdentityUpdate"

    class ErasureSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        deleted = serializers.DictField(child=serializers.IntegerField(),
                                        help_text="How many photos, embeddings and consents were deleted.")

        class Meta:
            ref_name = "IdentityErasure"

    @extend_schema(description=ERASED_READS, responses={200: IdentityDetailOutputSerializer,
                                                        **error_responses(401, 403, 404)})
    def get(self, request, identity_id: int):
        return Response(IdentityDetailOutputSerializer(_visible_identity(request, self, identity_id)).data)

    @extend_schema(description="Fields not listed are refused (400 naming them). " + ERASED_CHANGES,
                   request=InputSerializer, responses={200: IdentityDetailOutputSerializer,
                                                       **error_responses(400, 401, 403, 404, 409, 410)})
    def patch(self, request, identity_id: int):
        identity = _visible_identity(request, self, identity_id)
        data = self.InputSerializer(identity, data=request.data, partial=True)  # instance: unique check skips it
        data.is_valid(raise_exception=True)
        identity = services.update_identity(identity=identity, actor=request.user, **data.validated_data)
        return Response(_identity_out(identity))

    @extend_schema(summary="Erase the identity (right to erasure)",
                   description="Deletes its photos, crops, embeddings and consents; the identity stays as "
                               "`erased` with no name, and one audit entry records the erasure. Idempotent: "
                               "erasing an erased identity answers 200 again, `status: erased` with zero "
                               "counts, and records nothing new.",
                   responses={200: ErasureSerializer, **error_responses(401, 403, 404)})
    def delete(self, request, identity_id: int):
        identity = _visible_identity(request, self, identity_id)
        counts = services.erase_identity(identity=identity, actor=request.user)
        return Response(self.ErasureSerializer({"id": identity.pk, "status": Identity.Status.ERASED,
                                                "deleted": counts}).data)


# --- consent --------------------------------------------------------------------------


class ConsentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.IntegerField(source="identity_id")
    given_by = serializers.ChoiceField(choices=Consent.GivenBy.choices)
    given_by_name = serializers.CharField()
    purpose = serializers.CharField()
    wording_version = serializers.CharField()
    given_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    is_valid = serializers.SerializerMethodField(help_text="Whether the consent is valid now.")
    recorded_by = serializers.CharField(source="recorded_by.username", allow_null=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Consent"

    def get_is_valid(self, consent: Consent) -> bool:
        return consent.is_valid()


class IdentityConsentsApi(APIView):
    permission_classes = [CanReadOrChangeIdentity]
    pagination_class = Pagination

    class InputSerializer(StrictInputSerializer):
        given_by = serializers.ChoiceField(choices=Consent.GivenBy.choices, default=Consent.GivenBy.SELF)
        given_by_name = serializers.CharField(max_length=200)
        purpose = serializers.CharField()
        wording_version = serializers.CharField(max_length=50)
        given_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults to now.")
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

        class Meta:
            ref_name = "ConsentCreate"

    @extend_schema(responses={200: ConsentOutputSerializer(many=True), **error_responses(401, 403, 404)})
    def get(self, request, identity_id: int):
        identity = _visible_identity(request, self, identity_id)
        consents = identity.consents.select_related("recorded_by")
        return paginated_response(request=request, view=self, queryset=consents,
                                  serializer_class=ConsentOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: ConsentOutputSerializer,
                                                       **error_responses(400, 401, 403, 404, 409, 410)})
    def post(self, request, identity_id: int):
        identity = _visible_identity(request, self, identity_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = services.record_consent(identity=identity, actor=request.user, **data.validated_data)
        return Response(ConsentOutputSerializer(consent).data, status=status.HTTP_201_CREATED)


class ConsentWithdrawApi(APIView):
    permission_classes = [requires("manage_identities")]

    @extend_schema(request=None, summary="Withdraw a consent",
                   description="Takes effect at once: the person's templates stop matching; erasure follows "
                               "per FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS when no other consent is valid.",
                   responses={200: ConsentOutputSerializer, **error_responses(401, 403, 404, 409)})
    def post(self, request, consent_id: int):
        consent = get_visible_or_404(Consent.objects.all(), consent_id, "consent")
        consent = services.withdraw_consent(consent=consent, actor=request.user)
        return Response(ConsentOutputSerializer(consent).data)


# --- photos ---------------------------------------------------------------------------


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
            identities = listed_identities(request.user) if request else Identity.objects.none()
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
        identity = _visible_identity(request, self, identity_id)
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
        identity = serializers.IntegerField(required=False, min_value=1)
        status = serializers.ChoiceField(choices=EnrollmentImage.Status.choices, required=False)

        class Meta:
            ref_name = "PhotoFilter"

    @extend_schema(parameters=[FilterSerializer], responses={200: PhotoOutputSerializer(many=True),
                                                             **error_responses(400, 401, 403, 404)})
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        photos = visible_photos(request.user)
        if "identity" in filters.validated_data:
            photos = photos.filter(identity_id=filters.validated_data["identity"])
        if photo_status := filters.validated_data.get("status"):
            photos = photos.filter(status=photo_status)
        return paginated_response(request=request, view=self, queryset=photos, serializer_class=PhotoOutputSerializer)


class PhotoDetailApi(APIView):
    permission_classes = [CanReadOrChangeIdentity]

    @extend_schema(responses={200: PhotoOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, photo_id: int):
        photo = get_visible_or_404(visible_photos(request.user).select_related("identity"), photo_id, "photo")
        self.check_object_permissions(request, photo)
        return Response(PhotoOutputSerializer(photo, context={"request": request}).data)


# --- review ---------------------------------------------------------------------------


class ReviewedSerializer(serializers.Serializer):
    photos = PhotoOutputSerializer(many=True)

    class Meta:
        ref_name = "PhotosReviewed"


def _reviewed(request, photos) -> Response:
    return Response(ReviewedSerializer({"photos": photos}, context={"request": request}).data)


_REVIEW_ERRORS = error_responses(400, 401, 403, 404, 409)


class PhotoApproveBulkApi(APIView):
    permission_classes = [requires("review")]

    class InputSerializer(StrictInputSerializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=500)

        class Meta:
            ref_name = "PhotoApprove"

    @extend_schema(operation_id="photos_approve_many", summary="Approve photos awaiting review",
                   request=InputSerializer,
                   description="All or nothing. Their embeddings become active templates.",
                   responses={200: ReviewedSerializer, **_REVIEW_ERRORS})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _reviewed(request, services.approve_photos(image_ids=data.validated_data["ids"], actor=request.user))


class PhotoRejectBulkApi(APIView):
    permission_classes = [requires("review")]

    class InputSerializer(StrictInputSerializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=500)
        reason = serializers.CharField(max_length=1000)

        class Meta:
            ref_name = "PhotoReject"

    @extend_schema(operation_id="photos_reject_many", summary="Reject photos (awaiting review or approved)",
                   request=InputSerializer,
                   description="All or nothing. Their templates stop matching.",
                   responses={200: ReviewedSerializer, **_REVIEW_ERRORS})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photos = services.reject_photos(image_ids=data.validated_data["ids"], reason=data.validated_data["reason"],
                                        actor=request.user)
        return _reviewed(request, photos)


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


# --- audit log ------------------------------------------------------------------------
