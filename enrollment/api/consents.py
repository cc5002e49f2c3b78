"""Consents through the API: list and record a person's, withdraw one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from core.api import Pagination, StrictInputSerializer, error_responses, get_visible_or_404, paginated_response
from enrollment import services
from enrollment.api.access import CanReadOrChangeIdentity, visible_identity
from identities import services as identity_services
from identities.models import Consent


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
        identity = visible_identity(request, self, identity_id)
        consents = identity.consents.select_related("recorded_by")
        return paginated_response(request=request, view=self, queryset=consents,
                                  serializer_class=ConsentOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: ConsentOutputSerializer,
                                                       **error_responses(400, 401, 403, 404, 409, 410)})
    def post(self, request, identity_id: int):
        identity = visible_identity(request, self, identity_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = identity_services.record_consent(identity=identity, actor=request.user, **data.validated_data)
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
