"""Who may read the metrics, for the site's /metrics and a worker's endpoint alike: callers on this
machine (without a proxy's forwarding header), or holders of `Bearer FACEREC_METRICS_TOKEN`."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

# Set by a reverse proxy: a request carrying one came from elsewhere even when the proxy itself
# connects from loopback (the same rule as /healthz's detail).
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@dataclass(frozen=True)
class Refusal:
    status: int  # 401 (no or a wrong token) or 403
    reason: str
    ask_for_bearer: bool


def refusal(meta: dict, token: str) -> Refusal | None:
    """None when the caller may read; `meta` holds the request's WSGI variables (Django's request.META)."""
    header = meta.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, given = header.partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return Refusal(401, "the bearer token is wrong" if token else "no FACEREC_METRICS_TOKEN is configured: "
                       "only callers on this machine may read the metrics", True)
    if from_loopback(meta):
        return None
    if token:
        return Refusal(401, "send Authorization: Bearer <FACEREC_METRICS_TOKEN>", True)
    return Refusal(403, "only callers on this machine may read the metrics (or set FACEREC_METRICS_TOKEN)", False)


def from_loopback(meta: dict) -> bool:
    if any(meta.get(header) for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(meta.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback
