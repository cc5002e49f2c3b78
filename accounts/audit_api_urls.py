"""Routes of the audit log's REST API, included under /api/v1/ (namespace audit_api, as before the move)."""

from django.urls import path

from accounts import audit_api

app_name = "audit_api"

urlpatterns = [
    path("audit-log/", audit_api.AuditLogListApi.as_view(), name="audit-log"),
]
