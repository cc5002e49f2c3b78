"""Routes of the identities REST API, included under /api/v1/."""

from django.urls import path

from identities import api

app_name = "identities_api"

urlpatterns = [
    path("identities/", api.IdentityListApi.as_view(), name="identity-list"),
    path("identities/<int:identity_id>/", api.IdentityDetailApi.as_view(), name="identity-detail"),
    path("identities/<int:identity_id>/consents/", api.IdentityConsentsApi.as_view(), name="identity-consents"),
    path("identities/<int:identity_id>/photos/", api.IdentityPhotosApi.as_view(), name="identity-photos"),
    path("consents/<int:consent_id>/withdraw/", api.ConsentWithdrawApi.as_view(), name="consent-withdraw"),
    path("photos/", api.PhotoListApi.as_view(), name="photo-list"),
    path("photos/approve/", api.PhotoApproveBulkApi.as_view(), name="photo-approve-bulk"),
    path("photos/reject/", api.PhotoRejectBulkApi.as_view(), name="photo-reject-bulk"),
    path("photos/<int:photo_id>/", api.PhotoDetailApi.as_view(), name="photo-detail"),
    path("photos/<int:photo_id>/approve/", api.PhotoApproveApi.as_view(), name="photo-approve"),
    path("photos/<int:photo_id>/reject/", api.PhotoRejectApi.as_view(), name="photo-reject"),
    path("photos/<int:photo_id>/face/", api.PhotoFaceApi.as_view(), name="photo-face"),
]
