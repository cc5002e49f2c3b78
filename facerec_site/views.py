"""Site-wide pages: home (the platform's state for staff) and the health endpoint."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import can
from core.db_errors import DATABASE_ERRORS
from facerec_site.health import platform_health, summary
from monitoring.access import from_loopback
from monitoring.charts import outcome_chart
from monitoring.selectors import platform_figures


@require_GET
def home(request):
    """Signed-in staff see the platform's state (the figures /metrics exports); others the welcome."""
    if not (request.user.is_authenticated and request.user.is_staff):
        return render(request, "home.html")
    figures = platform_figures()
    return render(request, "home.html", {"figures": figures, "chart": outcome_chart(figures.answers),
                                         "health": platform_health()["checks"]})


@never_cache
@require_GET
def healthz(request):
    health = platform_health()
    status = 200 if health["ok"] else 503
    if not _sees_health_detail(request):
        health = summary(health)
    return JsonResponse(health, status=status)


def _sees_health_detail(request) -> bool:
    """Callers on this machine (`make run`'s operator, a container's own probe, the test suite)
    and signed-in admins; the audit log's capability stands for the admin role because the
    role table in accounts.roles decides access, not is_staff."""
    if from_loopback(request.META):
        return True
    try:
        return can(request.user, "view_audit_log")
    except DATABASE_ERRORS:  # sessions live in the database: with it down nobody is signed in
        return False

