"""URLs of the re-enrollment pages, mounted at /reenrollment/."""

from django.urls import path

from reenrollment import views

app_name = "reenrollment"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("<int:pk>/dismiss/", views.dismiss, name="dismiss"),
]
