"""URLs of the report pages, mounted at /reports/."""

from django.urls import path

from evaluation import views

app_name = "evaluation"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("new/", views.report_create, name="create"),
    path("<int:pk>/", views.report_detail, name="detail"),
    path("<int:pk>/apply-threshold/", views.apply_threshold, name="apply_threshold"),
    # Plot names are looked up in the report row, never used as a path.
    path("<int:pk>/plots/<str:name>.png", views.report_plot, name="plot"),
    path("<int:pk>/export.json", views.export_json, name="export_json"),
    path("<int:pk>/export.csv", views.export_csv, name="export_csv"),
]
