"""URLs of the recognition pages, mounted at /recognize/."""

from django.urls import path

from recognition import views

app_name = "recognition"

urlpatterns = [
    path("identify/", views.identify, name="identify"),
    path("verify/", views.verify, name="verify"),
]
