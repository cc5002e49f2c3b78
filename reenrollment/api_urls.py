"""Routes of the re-enrollment REST API, included under /api/v1/."""

from django.urls import path

from reenrollment import api

app_name = "reenrollment_api"

urlpatterns = [
    path("reenrollment-requests/", api.ReenrollmentRequestListApi.as_view(), name="request-list"),
    path("reenrollment-requests/<int:request_id>/", api.ReenrollmentRequestDetailApi.as_view(),
         name="request-detail"),
    path("reenrollment-requests/<int:request_id>/dismiss", api.ReenrollmentRequestDismissApi.as_view(),
         name="request-dismiss"),
    # The same with a trailing slash, as most routes have one (not repeated in the schema).
    path("reenrollment-requests/<int:request_id>/dismiss/", api.ReenrollmentRequestDismissApi.as_view(schema=None),
         name="request-dismiss-slash"),
]
