"""REST API of API tokens and API client accounts (/api/v1/tokens/, /api/v1/api-clients/): manage_tokens only.

Thin views: parse with a nested input serializer, call one service or selector, shape the
answer. The plaintext token is in the answer to its creation only; no answer carries the
secret's hash.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles, selectors, services
from accounts.models import ApiToken
from accounts.roles import requires
from core.api import Pagination, StrictInputSerializer, error_responses, filtered_page, get_visible_or_404

_STATE_HELP = "active; expired (past expires_at); revoked."


class ApiTokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The token's public id: `frk_<prefix>_...`.")
    user_id = serializers.IntegerField(help_text="The account the token acts as.")
    username = serializers.CharField(source="user.username")
    state = serializers.ChoiceField(choices=ApiToken.State.choices, help_text=_STATE_HELP)
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: never expires.")
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute; null: never used.")
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_by = serializers.CharField(source="revoked_by.username", allow_null=True)

    class Meta:
        ref_name = "ApiToken"


class ApiTokenCreatedSerializer(ApiTokenOutputSerializer):
    """The answer to a creation (for the schema): the token's fields and, this once, the token."""

    token = serializers.CharField(help_text="The whole token, `frk_<prefix>_<secret>`: shown this once, never "
                                            "stored. Send it as `Authorization: Bearer <token>`.")

    class Meta:
        ref_name = "ApiTokenCreated"


def _token(pk: int) -> ApiToken:
    return get_visible_or_404(selectors.api_tokens(), pk, "API token")


class ApiTokenListApi(APIView):
    permission_classes = [requires("manage_tokens")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=ApiToken.State.choices, required=False,
                                        help_text="Any state when absent.")
        user = serializers.IntegerField(source="user_id", required=False, min_value=1, help_text="An account's id.")

        class Meta:
            ref_name = "ApiTokenFilter"

    class InputSerializer(StrictInputSerializer):
        user_id = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.all(),
                                                     help_text="The account the token will act as (an "
                                                               "api_client account, from POST /api/v1/api-clients/, "
                                                               "or any active user).")
        name = serializers.CharField(max_length=100, help_text='A label, e.g. "door-kiosk-3".')
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                               help_text="Null or absent: never expires. Must be in the future.")

        class Meta:
            ref_name = "ApiTokenCreate"

    @extend_schema(summary="List API tokens", description="Newest first. Never shows a token's secret.",
                   parameters=[FilterSerializer],
                   responses={200: ApiTokenOutputSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request):
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=selectors.api_tokens, serializer_class=ApiTokenOutputSerializer)

    @extend_schema(summary="Create an API token",
                   description="Answers the whole token once, in `token`; only its hash is kept. Audited as "
                               "token.create. 400 `expiry_in_past` for an expiry not in the future, "
                               "`inactive_account` for an inactive account.",
                   request=InputSerializer, responses={201: ApiTokenCreatedSerializer,
                                                       **error_responses(400, 401, 403)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        token, plaintext = services.create_token(user=values["user_id"], name=values["name"],
                                                 expires_at=values["expires_at"], actor=request.user)
        body = {**ApiTokenOutputSerializer(token).data, "token": plaintext}
        return Response(body, status=status.HTTP_201_CREATED,
                        headers={"Cache-Control": "no-store"})


class ApiTokenDetailApi(APIView):
    permission_classes = [requires("manage_tokens")]

    @extend_schema(summary="One API token", responses={200: ApiTokenOutputSerializer,
                                                       **error_responses(401, 403, 404)})
    def get(self, request, token_id: int):
        return Response(ApiTokenOutputSerializer(_token(token_id)).data)


class ApiTokenRevokeApi(APIView):
    permission_classes = [requires("manage_tokens")]

    @extend_schema(operation_id="tokens_revoke", summary="Revoke an API token",
                   description="The token stops working at once (401 `token_revoked`). Revoking a revoked token "
                               "changes nothing. Audited as token.revoke.",
                   request=None, responses={200: ApiTokenOutputSerializer, **error_responses(401, 403, 404)})
    def post(self, request, token_id: int):
        token = services.revoke_token(token=_token(token_id), actor=request.user)
        return Response(ApiTokenOutputSerializer(token).data)


class ApiClientOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.SerializerMethodField()
    can_enroll = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    class Meta:
        ref_name = "ApiClient"

    def get_roles(self, user) -> list[str]:
        return sorted(user.groups.values_list("name", flat=True))

    def get_can_enroll(self, user) -> bool:
        return roles.can(user, "enroll")


class ApiClientCreateApi(APIView):
    permission_classes = [requires("manage_tokens")]

    class InputSerializer(StrictInputSerializer):
        username = serializers.CharField(max_length=150, help_text="Letters, digits and @ . + - _ only.")
        can_enroll = serializers.BooleanField(required=False, default=False,
                                              help_text="Also let it enroll people and upload their photos.")

        class Meta:
            ref_name = "ApiClientCreate"

    @extend_schema(operation_id="api_clients_create", summary="Create an API client account",
                   description="A token-only account (role api_client: identify and verify, enroll when "
                               "`can_enroll`); it cannot sign in to the pages. Give it tokens with "
                               "POST /api/v1/tokens/. 409 `username_taken`. Audited as api_client.create.",
                   request=InputSerializer, responses={201: ApiClientOutputSerializer,
                                                       **error_responses(400, 401, 403, 409)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.create_api_client(**data.validated_data, actor=request.user)
        return Response(ApiClientOutputSerializer(user).data, status=status.HTTP_201_CREATED)
