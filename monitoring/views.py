"""GET /metrics: Prometheus' text format, for callers on this machine or holding the bearer token."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse
from django.views import View
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.metrics import exposition

# Set by a reverse proxy: a request carrying one came from elsewhere even when the proxy itself
# connects from loopback (the same rule as /healthz's detail).
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


class MetricsView(View):
    http_method_names = ["get"]
    extra_collectors: tuple = ()  # the site's probes (facerec_site/urls.py)

    def get(self, request):
        refusal = refused(request)
        if refusal is not None:
            return refusal
        return HttpResponse(exposition(self.extra_collectors), content_type=CONTENT_TYPE_LATEST)


def refused(request) -> HttpResponse | None:
    """None when the caller may read the metrics; else 401 (no or a wrong token) or 403, with why."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    token = settings.FACEREC_METRICS_TOKEN
    if header:
        scheme, _, given = header.partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return _text(401, "the bearer token is wrong" if token else "no FACEREC_METRICS_TOKEN is configured: "
                     "only callers on this machine may read the metrics", bearer=True)
    if from_loopback(request):
        return None
    if token:
        return _text(401, "send Authorization: Bearer <FACEREC_METRICS_TOKEN>", bearer=True)
    return _text(403, "only callers on this machine may read the metrics (or set FACEREC_METRICS_TOKEN)")


def from_loopback(request) -> bool:
    if any(request.META.get(header) for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def _text(status: int, reason: str, *, bearer: bool = False) -> HttpResponse:
    response = HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")
    if bearer:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
