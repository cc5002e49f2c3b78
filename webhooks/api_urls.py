"""Routes of the webhooks' REST API, included under /api/v1/."""

from django.urls import path

from webhooks import api

app_name = "webhooks_api"

urlpatterns = [
    path("webhooks/", api.SubscriptionListApi.as_view(), name="subscription-list"),
    path("webhooks/<int:subscription_id>/", api.SubscriptionDetailApi.as_view(), name="subscription-detail"),
    path("webhooks/<int:subscription_id>/rotate-secret/", api.RotateSecretApi.as_view(), name="rotate-secret"),
    path("webhooks/<int:subscription_id>/resume/", api.ResumeApi.as_view(), name="resume"),
    path("webhooks/<int:subscription_id>/deliveries/", api.DeliveryListApi.as_view(), name="delivery-list"),
    path("webhooks/<int:subscription_id>/deliveries/<int:delivery_id>/replay/", api.ReplayApi.as_view(),
         name="replay"),
]
