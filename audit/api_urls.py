"""Routes of the audit log's REST API, included under /api/v1/."""

from django.urls import path

from audit import api

app_name = "audit_api"

urlpatterns = [
    path("audit-log/", api.AuditLogListApi.as_view(), name="audit-log"),
]
