"""Routes of the identities REST API, included under /api/v1/."""

from django.urls import path

from enrollment.api import consents, identities, photos, review

app_name = "identities_api"

urlpatterns = [
    path("identities/", identities.IdentityListApi.as_view(), name="identity-list"),
    path("identities/<int:identity_id>/", identities.IdentityDetailApi.as_view(), name="identity-detail"),
    path("identities/<int:identity_id>/consents/", consents.IdentityConsentsApi.as_view(), name="identity-consents"),
    path("identities/<int:identity_id>/photos/", photos.IdentityPhotosApi.as_view(), name="identity-photos"),
    path("consents/<int:consent_id>/withdraw/", consents.ConsentWithdrawApi.as_view(), name="consent-withdraw"),
    path("photos/", photos.PhotoListApi.as_view(), name="photo-list"),
    path("photos/approve/", review.PhotoApproveBulkApi.as_view(), name="photo-approve-bulk"),
    path("photos/reject/", review.PhotoRejectBulkApi.as_view(), name="photo-reject-bulk"),
    path("photos/<int:photo_id>/", photos.PhotoDetailApi.as_view(), name="photo-detail"),
    path("photos/<int:photo_id>/approve/", review.PhotoApproveApi.as_view(), name="photo-approve"),
    path("photos/<int:photo_id>/reject/", review.PhotoRejectApi.as_view(), name="photo-reject"),
    path("photos/<int:photo_id>/face/", review.PhotoFaceApi.as_view(), name="photo-face"),
]
