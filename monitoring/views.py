"""GET /metrics: Prometheus' text format, for callers on this machine or holding the bearer token."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.views import View
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.access import refusal
from monitoring.metrics import exposition


class MetricsView(View):
    http_method_names = ["get"]
    extra_collectors: tuple = ()  # the site's probes (facerec_site/urls.py)

    def get(self, request):
        refused = refusal(request.META, settings.FACEREC_METRICS_TOKEN)
        if refused is not None:
            response = HttpResponse(refused.reason + "\n", status=refused.status,
                                    content_type="text/plain; charset=utf-8")
            if refused.ask_for_bearer:
                response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(exposition(self.extra_collectors), content_type=CONTENT_TYPE_LATEST)
