"""URLs of the video pages, mounted at /videos/."""

from django.urls import path

from videos import views

app_name = "videos"

urlpatterns = [
    path("", views.video_list, name="list"),
    path("<int:pk>/", views.video_detail, name="detail"),
    path("<int:pk>/export.<str:fmt>", views.video_export, name="export"),
    # Face crops are private: served only through this permission-checked view.
    path("<int:pk>/tracks/<int:number>/crop", views.track_crop, name="track_crop"),
]
