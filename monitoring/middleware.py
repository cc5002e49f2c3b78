"""Counts every request by route and status and times it (facerec_http_requests_total, ..._seconds)."""

from __future__ import annotations

import time

from monitoring.metrics import HTTP_REQUESTS, HTTP_SECONDS


class RequestMetricsMiddleware:
    """The route is the URL pattern's name (`identities:review`), never the path: paths carry ids
    and would make one time series per identity; requests no pattern matched count as `unmatched`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or "unnamed") if match is not None else "unmatched"
        HTTP_SECONDS.labels(route=route, method=request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
        return response
