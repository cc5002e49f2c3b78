"""Routes of the cameras REST API, included under /api/v1/."""

from django.urls import path

from cameras import api

app_name = "cameras_api"

urlpatterns = [
    path("cameras/", api.CameraListApi.as_view(), name="camera-list"),
    path("cameras/<int:camera_id>/", api.CameraDetailApi.as_view(), name="camera-detail"),
    path("cameras/<int:camera_id>/sightings/", api.SightingListApi.as_view(), name="sighting-list"),
    path("cameras/<int:camera_id>/sightings/<int:sighting_id>/crop/", api.SightingCropApi.as_view(),
         name="sighting-crop"),
]
