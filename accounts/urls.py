"""URLs of the account pages, mounted at /accounts/: API tokens."""

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/new/", views.token_new, name="token-new"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
]
