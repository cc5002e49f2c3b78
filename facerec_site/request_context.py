"""Who is asking, from where, under which request id: for audit entries and logs.

A middleware stores it in a context variable, so services record it without
every call passing the request along. Celery tasks run with no request: the
actor is the system.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from dataclasses import dataclass

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class RequestMeta:
    request_id: str = ""
    client_ip: str | None = None


current = contextvars.ContextVar("facerec_request_meta", default=RequestMeta())


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current.set(RequestMeta(request_id=request_id, client_ip=request.META.get("REMOTE_ADDR") or None))
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response["X-Request-ID"] = request_id
        return response
