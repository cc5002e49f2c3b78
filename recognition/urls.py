"""URLs of the recognition pages, mounted at /recognize/."""

from django.urls import path

from recognition import kiosk_views, views

app_name = "recognition"

urlpatterns = [
    path("identify/", views.identify, name="identify"),
    path("verify/", views.verify, name="verify"),
    path("kiosk/", kiosk_views.kiosk, name="kiosk"),
    path("kiosk/frame/", kiosk_views.kiosk_frame, name="kiosk_frame"),
]
