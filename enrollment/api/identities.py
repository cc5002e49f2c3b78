"""People through the API: list, create, read, change, erase."""

from __future__ import annotations

from functools import partial

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator
from rest_framework.views import APIView

from core.api import Pagination, StrictInputSerializer, error_responses, filtered_page
from core.errors import DomainError
from enrollment import services
from enrollment.api.access import CanReadOrChangeIdentity, IdentityListPermission, visible_identity
from identities import selectors
from identities import services as identity_services
from identities.models import Identity
from reenrollment.api import ReenrollmentPolicySerializer
from reenrollment.services import policy_as_dict

_ATTRIBUTES_HELP = ("Optional attributes recorded with the person's consent, key -> value (e.g. "
                    '{"cohort": "2024"}); evaluation reports break their metrics down per value. At most '
                    f"{identity_services.MAX_ATTRIBUTES} keys of 1-50 letters, digits, '_', '-' or '.'; values are "
                    f"text (numbers become text) of at most {identity_services.MAX_ATTRIBUTE_VALUE_CHARS} characters; "
                    "an empty value drops its key. On update the object replaces the stored one.")


def _cleaned(clean, data):
    """`clean(data)`, the service's one check, with its DomainError as the field's validation error."""
    try:
        return clean(data)
    except DomainError as exc:
        raise serializers.ValidationError(exc.message, code=exc.code)


class AttributesField(serializers.DictField):
    """key -> text; parsed by identities.services.clean_attributes, the one place with the rules."""

    # For the schema only (to_internal_value below does the parsing): an empty value drops its key.
    child = serializers.CharField(allow_blank=True, max_length=identity_services.MAX_ATTRIBUTE_VALUE_CHARS)

    def to_internal_value(self, data) -> dict[str, str]:
        return _cleaned(identity_services.clean_attributes, data)


_CONTACT_EMAIL_HELP = ("Optional; where re-enrollment and consent-expiry notices go. Blank when there is none "
                       "(and after erasure).")


class ContactEmailField(serializers.EmailField):
    """An email address or blank; parsed by identities.services.clean_contact_email, the one place with the rules."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", identity_services.MAX_CONTACT_EMAIL_CHARS)
        kwargs.setdefault("help_text", _CONTACT_EMAIL_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        return _cleaned(identity_services.clean_contact_email, data)


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
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=partial(selectors.listed_identities, request.user),
                             serializer_class=IdentityOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: IdentityDetailOutputSerializer,
                                                       **error_responses(400, 401, 403, 409)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        identity = identity_services.create_identity(**data.validated_data, actor=request.user)
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
        return Response(IdentityDetailOutputSerializer(visible_identity(request, self, identity_id)).data)

    @extend_schema(description="Fields not listed are refused (400 naming them). " + ERASED_CHANGES,
                   request=InputSerializer, responses={200: IdentityDetailOutputSerializer,
                                                       **error_responses(400, 401, 403, 404, 409, 410)})
    def patch(self, request, identity_id: int):
        identity = visible_identity(request, self, identity_id)
        data = self.InputSerializer(identity, data=request.data, partial=True)  # instance: unique check skips it
        data.is_valid(raise_exception=True)
        identity = identity_services.update_identity(identity=identity, actor=request.user, **data.validated_data)
        return Response(_identity_out(identity))

    @extend_schema(summary="Erase the identity (right to erasure)",
                   description="Deletes its photos, crops, embeddings and consents; the identity stays as "
                               "`erased` with no name, and one audit entry records the erasure. Idempotent: "
                               "erasing an erased identity answers 200 again, `status: erased` with zero "
                               "counts, and records nothing new.",
                   responses={200: ErasureSerializer, **error_responses(401, 403, 404)})
    def delete(self, request, identity_id: int):
        identity = visible_identity(request, self, identity_id)
        counts = services.erase_identity(identity=identity, actor=request.user)
        return Response(self.ErasureSerializer({"id": identity.pk, "status": Identity.Status.ERASED,
                                                "deleted": counts}).data)
