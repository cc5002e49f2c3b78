from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from facerec_site import jobs, security, views
from facerec_site.metrics import site_metrics
from monitoring.metrics import SiteCollector
from monitoring.views import MetricsView

# The admin's login page counts failures and locks out like the site's own.
admin.site.login_form = security.LockoutAdminAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", MetricsView.as_view(extra_collectors=(SiteCollector(site_metrics),)), name="metrics"),
    path("login/", security.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("enrollment.api_urls")),
    path("api/v1/", include("recognition.api_urls")),
    path("api/v1/", include("evaluation.api_urls")),
    path("api/v1/", include("reenrollment.api_urls")),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("accounts.audit_api_urls")),
    path("api/v1/", include("videos.api_urls")),
    path("api/v1/", include("webhooks.api_urls")),
    path("api/v1/", include("cameras.api_urls")),
    path("api/v1/jobs/<str:task_id>/", jobs.JobStatusApi.as_view(), name="api-job-status"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script from its own URL (?script): no inline script for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("identities/", include("enrollment.urls")),
    path("recognize/", include("recognition.urls")),
    path("reports/", include("evaluation.urls")),
    path("videos/", include("videos.urls")),
    path("reenrollment/", include("reenrollment.urls")),
    path("accounts/", include("accounts.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("cameras/", include("cameras.urls")),
]

# API URLs that match no route answer the JSON error shape, not the HTML page.
handler400 = "core.api.bad_request"
handler404 = "core.api.not_found"
handler500 = "core.api.server_error"
