"""Routes of the videos REST API, included under /api/v1/."""

from django.urls import path

from videos import api

app_name = "videos_api"

urlpatterns = [
    path("videos/", api.VideoListApi.as_view(), name="video-list"),
    path("videos/<int:video_id>/", api.VideoDetailApi.as_view(), name="video-detail"),
    path("videos/<int:video_id>/tracks/", api.VideoTracksApi.as_view(), name="video-tracks"),
    path("videos/<int:video_id>/tracks/<int:number>/crop/", api.VideoTrackCropApi.as_view(),
         name="video-track-crop"),
    path("videos/<int:video_id>/export.json", api.VideoJsonExportApi.as_view(), name="video-export-json"),
    path("videos/<int:video_id>/export.csv", api.VideoCsvExportApi.as_view(), name="video-export-csv"),
    path("videos/<int:video_id>/export.vtt", api.VideoVttExportApi.as_view(), name="video-export-vtt"),
]
