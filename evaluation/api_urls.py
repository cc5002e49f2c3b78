"""Routes of the evaluation REST API, included under /api/v1/."""

from django.urls import path

from evaluation import api

app_name = "evaluation_api"

urlpatterns = [
    path("reports/", api.ReportListApi.as_view(), name="report-list"),
    path("reports/<int:report_id>/", api.ReportDetailApi.as_view(), name="report-detail"),
    path("reports/<int:report_id>/plots/<str:name>", api.ReportPlotApi.as_view(), name="report-plot"),
    path("reports/<int:report_id>/apply-threshold", api.ReportApplyThresholdApi.as_view(),
         name="report-apply-threshold"),
    # The same with a trailing slash, as most routes have one (not repeated in the schema).
    path("reports/<int:report_id>/apply-threshold/", api.ReportApplyThresholdApi.as_view(schema=None),
         name="report-apply-threshold-slash"),
]
