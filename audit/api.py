"""The audit log over the REST API: read-only, for holders of view_audit_log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.roles import requires
from audit.models import AuditLog
from core.api import Pagination, error_responses, paginated_response


class AuditLogListApi(APIView):
    """Read-only (view_audit_log), newest first."""

    permission_classes = [requires("view_audit_log")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        action = serializers.CharField(required=False, help_text="e.g. photo.approve")
        target_type = serializers.CharField(required=False, help_text="e.g. identities.identity")
        target_id = serializers.CharField(required=False)

        class Meta:
            ref_name = "AuditLogFilter"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        actor = serializers.IntegerField(source="actor_id", allow_null=True)
        actor_name = serializers.CharField()
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        request_id = serializers.CharField()
        client_ip = serializers.IPAddressField(allow_null=True)
        details = serializers.JSONField()
        prev_hash = serializers.CharField()
        entry_hash = serializers.CharField()

        class Meta:
            ref_name = "AuditLogEntry"

    @extend_schema(parameters=[FilterSerializer], responses={200: OutputSerializer(many=True),
                                                             **error_responses(400, 401, 403, 404)})
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = AuditLog.objects.filter(**filters.validated_data).order_by("-id")
        return paginated_response(request=request, view=self, queryset=entries, serializer_class=self.OutputSerializer)
