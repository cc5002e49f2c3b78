"""Routes of the recognition REST API, included under /api/v1/."""

from django.urls import path

from recognition import api

app_name = "recognition_api"

urlpatterns = [
    path("identify", api.IdentifyApi.as_view(), name="identify"),
    path("verify", api.VerifyApi.as_view(), name="verify"),
    # The same endpoints with a trailing slash, as the other routes have one (not repeated in the schema).
    path("identify/", api.IdentifyApi.as_view(schema=None), name="identify-slash"),
    path("verify/", api.VerifyApi.as_view(schema=None), name="verify-slash"),
]
