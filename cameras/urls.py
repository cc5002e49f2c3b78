"""URLs of the camera pages, mounted at /cameras/."""

from django.urls import path

from cameras import views

app_name = "cameras"

urlpatterns = [
    path("", views.camera_list, name="list"),
    path("new/", views.camera_new, name="new"),
    path("<int:pk>/", views.camera_detail, name="detail"),
    path("<int:pk>/live", views.camera_live, name="live"),
    path("<int:pk>/delete", views.camera_delete, name="delete"),
    # Face crops are private: served only through this permission-checked view.
    path("<int:pk>/sightings/<int:sighting_id>/crop", views.sighting_crop, name="sighting_crop"),
]
