"""The audit log over the REST API: read-only, for holders of view_audit_log.

Here rather than in audit: the permission is accounts.roles', and audit sits below accounts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.roles import requires
from audit import selectors
from core.api import Pagination, error_responses, filtered_page


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
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=selectors.audit_entries, serializer_class=self.OutputSerializer)
