"""Routes of the API tokens' REST API, included under /api/v1/."""

from django.urls import path

from accounts import api

app_name = "accounts_api"

urlpatterns = [
    path("tokens/", api.ApiTokenListApi.as_view(), name="token-list"),
    path("tokens/<int:token_id>/", api.ApiTokenDetailApi.as_view(), name="token-detail"),
    path("tokens/<int:token_id>/revoke", api.ApiTokenRevokeApi.as_view(), name="token-revoke"),
    # The same with a trailing slash, as most routes have one (not repeated in the schema).
    path("tokens/<int:token_id>/revoke/", api.ApiTokenRevokeApi.as_view(schema=None), name="token-revoke-slash"),
    path("api-clients/", api.ApiClientCreateApi.as_view(), name="api-client-create"),
]
