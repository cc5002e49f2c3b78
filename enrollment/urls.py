"""URLs of the identity pages, mounted at /identities/."""

from django.urls import path

from enrollment import views

app_name = "identities"

urlpatterns = [
    path("", views.identity_list, name="list"),
    path("new/", views.identity_create, name="create"),
    path("review/", views.review_queue, name="review"),
    path("<int:pk>/", views.identity_detail, name="detail"),
    path("<int:pk>/photos/", views.add_photos, name="add_photos"),
    path("<int:pk>/consents/", views.add_consent, name="add_consent"),
    path("<int:pk>/erase/", views.identity_erase, name="erase"),
    path("consents/<int:pk>/withdraw/", views.withdraw_consent, name="withdraw_consent"),
    # Face photos are private: served only through these permission-checked views.
    path("photos/<int:pk>/crop.png", views.photo_crop, name="photo_crop"),
    path("photos/<int:pk>/original", views.photo_original, name="photo_original"),
    path("photos/<int:pk>/faces/", views.photo_faces, name="photo_faces"),
]
