"""Site-wide pages: home and the health endpoint."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from facerec_site.health import platform_health


@require_GET
def home(request):
    return render(request, "home.html")


@never_cache
@require_GET
def healthz(request):
    health = platform_health()
    return JsonResponse(health, status=200 if health["ok"] else 503)
