"""Sending one webhook POST safely: http(s) only, the host resolved and refused when it is private,
loopback, link-local (cloud metadata) or otherwise not public unless FACEREC_WEBHOOK_ALLOWED_NETWORKS
allows it, and the connection made to the address that was checked (no second lookup a rebinding
DNS server could answer differently). 5 s timeout, no redirects, the answer read up to a cap."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

TIMEOUT_S = 5.0
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 500


class TargetRefused(Exception):
    """The URL may not be called (scheme, or an address the allow-list does not cover)."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    latency_ms: float
    excerpt: str


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to), or TargetRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"scheme {parts.scheme!r} is not http or https")
    host = parts.hostname
    if not host:
        raise TargetRefused("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"the host does not resolve ({exc.strerror})") from None
    allowed = _allowed_networks()
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Every address the name has must pass: a name with one public and one private address is refused.
    for address in addresses:
        if not (_is_public(address) or any(address in network for network in allowed)):
            raise TargetRefused(f"{address} is not a public address (FACEREC_WEBHOOK_ALLOWED_NETWORKS)")
    return parts.scheme, host, port, str(addresses[0])


def _tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, plus FACEREC_WEBHOOK_CA_BUNDLE's (a receiver with a private CA)."""
    context = ssl.create_default_context()
    if settings.FACEREC_WEBHOOK_CA_BUNDLE:
        context.load_verify_locations(cafile=settings.FACEREC_WEBHOOK_CA_BUNDLE)
    return context


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST to the checked address; TargetRefused, or urllib3's errors for a failed connection."""
    scheme, host, port, address = check_target(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if ":" not in host else f"[{host}]"
    if parts.port:
        host_header += f":{parts.port}"
    timeout = urllib3.Timeout(connect=TIMEOUT_S, read=TIMEOUT_S)
    if scheme == "https":
        # Connected to the checked address, the certificate verified for the URL's name (sent as SNI).
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=host, assert_hostname=host, ssl_context=_tls_context())
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    started = time.perf_counter()
    try:
        response = pool.urlopen("POST", path, body=body, headers={**headers, "Host": host_header},
                                redirect=False, retries=False, preload_content=False)
        try:
            data = response.read(MAX_RESPONSE_BYTES)
        finally:
            response.release_conn()
    finally:
        pool.close()
    latency_ms = (time.perf_counter() - started) * 1000
    return Answer(response.status, latency_ms, data.decode("utf-8", "replace")[:EXCERPT_CHARS])
