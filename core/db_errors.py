"""The database being unreachable is an outage, not a bug: 503 with Retry-After, never a 500.

Pages get a short HTML page, /api/ the JSON error shape. DRF views reach `api_error`
through core.api.exception_handler, everything else through the middleware.
Nothing here touches the database, and the page is not rendered from the site's
templates (their layout reads the signed-in user, which needs the database).
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

log = logging.getLogger(__name__)

# Connection refused or lost, server shutting down, and the like. Django raises these for any
# backend; with CONN_HEALTH_CHECKS the next request after the server is back reconnects.
DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_S = 30
CODE = "database_unavailable"
MESSAGE = "The database is unavailable right now; please try again shortly."

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Temporarily unavailable</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>Temporarily unavailable</h1>
<p>{message}</p>
<p><small>Request id: {request_id}</small></p>
</body></html>
"""


def is_database_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def log_unavailable(request, exc: BaseException) -> str:
    """One line per refused request (no traceback: it is the server, not the code)."""
    request_id = getattr(request, "request_id", "") if request is not None else ""
    log.warning("database unavailable, answering 503 (request id %s): %s: %s", request_id or "-",
                type(exc).__name__, (str(exc).strip().splitlines() or [""])[0][:200])
    return request_id


def api_error(request, exc: BaseException) -> tuple[dict, int, dict[str, str]]:
    """(body, status, headers) for the API's error shape."""
    from core.api import error_body  # inside: core.api imports this module (cycle)

    log_unavailable(request, exc)
    return error_body(CODE, MESSAGE), 503, {"Retry-After": str(RETRY_AFTER_S)}


def unavailable_response(request, exc: BaseException) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        body, status, headers = api_error(request, exc)
        return JsonResponse(body, status=status, headers=headers)
    request_id = log_unavailable(request, exc)
    page = _PAGE.format(message=escape(MESSAGE), request_id=escape(request_id or "-"))
    return HttpResponse(page, status=503, headers={"Retry-After": str(RETRY_AFTER_S)},
                        content_type="text/html; charset=utf-8")


class DatabaseUnavailableMiddleware:
    """Turns a database outage raised by a (non-DRF) view into a 503; the answer still passes
    through the other middleware (security headers, request id)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            return unavailable_response(request, exception)
        return None
