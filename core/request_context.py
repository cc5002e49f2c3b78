"""Who is asking, from where, under which request id: for audit entries and logs.

A middleware stores it in a context variable, so services record it without
every call passing the request along. Celery tasks run with no request: the
actor is the system.
"""

from __future__ import annotations

import contextvars
import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from rest_framework.throttling import BaseThrottle

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class RequestMeta:
    request_id: str = ""
    client_ip: str | None = None
    # The signed-in user, read when asked (authentication may finish later, in DRF's view).
    user_getter: Callable[[], object] | None = None

    @property
    def user(self):
        user = self.user_getter() if self.user_getter else None
        return user if getattr(user, "is_authenticated", False) else None


current = contextvars.ContextVar("facerec_request_meta", default=RequestMeta())


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current.set(RequestMeta(request_id=request_id, client_ip=_client_ip(request),
                                        user_getter=lambda: getattr(request, "user", None)))
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response["X-Request-ID"] = request_id
        return response


def _client_ip(request) -> str | None:
    """The address the throttles and the lockout see (past FACEREC_NUM_PROXIES trusted proxies), when it
    is an IP address; else REMOTE_ADDR."""
    for candidate in (client_ip(request), request.META.get("REMOTE_ADDR")):
        try:
            return str(ipaddress.ip_address((candidate or "").strip()))
        except ValueError:
            continue
    return None


def client_ip(request) -> str:
    """The caller's address as the API throttles see it (REMOTE_ADDR, or X-Forwarded-For
    past REST_FRAMEWORK["NUM_PROXIES"] trusted proxies)."""
    return BaseThrottle().get_ident(request) or ""
