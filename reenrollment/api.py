"""REST API of re-enrollment requests (/api/v1/reenrollment-requests/), for manage_reenrollment.

Thin views: parse with a nested input serializer, call one service or selector, shape
the answer. Requests name people and say why their photos need renewing, so only
manage_reenrollment reads them. Errors become the one JSON error shape in core.api.exception_handler.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from core.api import Pagination, StrictInputSerializer, error_responses, filtered_page, get_visible_or_404
from identities.models import Identity
from reenrollment import selectors, services
from reenrollment.models import ReenrollmentRequest

_DETAILS_HELP = ("The figures that broke the rule, by reason. too_few_photos: active_photos, minimum. "
                 "template_age: newest_template_at, age_days, max_age_days. drift: baseline, recent_median, drop, "
                 "window, margin, drifted.")


class ReenrollmentPolicySerializer(serializers.Serializer):
    """The policy in force for one identity (reenrollment.services.Policy)."""

    max_template_age_days = serializers.IntegerField(help_text="Templates older than this ask for new photos.")
    min_active_photos = serializers.IntegerField(help_text="Fewer active photos than this ask for new ones.")
    max_active_photos = serializers.IntegerField(help_text="After a re-enrollment, older templates beyond this "
                                                           "many are retired.")
    drift_margin = serializers.FloatField(help_text="How far recent match similarity may fall below the "
                                                    "enrollment baseline.")
    drift_window = serializers.IntegerField(help_text="How many recent matches the drift check takes.")

    class Meta:
        ref_name = "ReenrollmentPolicy"


class ReenrollmentRequestOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity_id = serializers.IntegerField()
    identity_name = serializers.SerializerMethodField(help_text="Null once the identity is erased.")
    reason = serializers.ChoiceField(choices=ReenrollmentRequest.Reason.choices)
    status = serializers.ChoiceField(choices=ReenrollmentRequest.Status.choices,
                                     help_text="open -> fulfilled (new photos approved), dismissed (by an admin) or "
                                               "expired (past due_at).")
    details = serializers.JSONField(help_text=_DETAILS_HELP)
    created_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    notified_at = serializers.DateTimeField(allow_null=True, help_text="When the person was mailed; null if not "
                                                                      "(yet, or no contact email).")
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField(source="closed_by.username", allow_null=True)
    close_note = serializers.CharField()

    class Meta:
        ref_name = "ReenrollmentRequest"

    def get_identity_name(self, request: ReenrollmentRequest) -> str | None:
        identity = request.identity
        return identity.display_name if identity.status == Identity.Status.ACTIVE else None


def _request(pk: int) -> ReenrollmentRequest:
    return get_visible_or_404(selectors.reenrollment_requests(), pk, "re-enrollment request")


class ReenrollmentRequestListApi(APIView):
    permission_classes = [requires("manage_reenrollment")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=ReenrollmentRequest.Status.choices, required=False,
                                         help_text="Any status when absent.")
        reason = serializers.ChoiceField(choices=ReenrollmentRequest.Reason.choices, required=False)
        identity = serializers.IntegerField(source="identity_id", required=False, min_value=1,
                                            help_text="An identity id.")

        class Meta:
            ref_name = "ReenrollmentRequestFilter"

    @extend_schema(summary="List re-enrollment requests", description="Newest first.",
                   parameters=[FilterSerializer],
                   responses={200: ReenrollmentRequestOutputSerializer(many=True),
                              **error_responses(400, 401, 403, 404)})
    def get(self, request):
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=selectors.reenrollment_requests,
                             serializer_class=ReenrollmentRequestOutputSerializer)


class ReenrollmentRequestDetailApi(APIView):
    permission_classes = [requires("manage_reenrollment")]

    @extend_schema(responses={200: ReenrollmentRequestOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, request_id: int):
        return Response(ReenrollmentRequestOutputSerializer(_request(request_id)).data)


class ReenrollmentRequestDismissApi(APIView):
    permission_classes = [requires("manage_reenrollment")]

    class InputSerializer(StrictInputSerializer):
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000,
                                     help_text="Why (optional); kept with the request.")

        class Meta:
            ref_name = "ReenrollmentRequestDismiss"

    @extend_schema(operation_id="reenrollment_requests_dismiss", summary="Dismiss an open re-enrollment request",
                   description="Closes it without new photos (audited as reenrollment.dismiss). 409 when the "
                               "request is no longer open (`invalid_transition`). A rule still broken raises a "
                               "new request at the next daily check.",
                   request=InputSerializer,
                   responses={200: ReenrollmentRequestOutputSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, request_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dismissed = services.dismiss_request(request_id=request_id, actor=request.user,
                                             note=data.validated_data["note"])
        return Response(ReenrollmentRequestOutputSerializer(dismissed).data)
