"""What settings make of the addresses they read: whether a host is this machine, and the broker's
server as the cache's. No Django: settings import this before Django is set up."""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redis_cache_location(broker_url: str, db: int) -> str | None:
    """The broker's Redis-protocol server as a redis-py URL on database `db`; None if not Redis.

    kombu's socket form `redis+socket:///run/valkey.sock?virtual_host=0` becomes
    `unix:///run/valkey.sock?db=2`; `redis://host:6379/0` becomes `redis://host:6379/2`.
    """
    url = urlsplit(broker_url)
    if url.scheme in {"redis+socket", "socket"}:
        return f"unix://{url.path}?db={db}"
    if url.scheme in {"redis", "rediss"}:  # TLS options carry over; kombu's own do not
        tls = [(k, v) for k, v in parse_qsl(url.query) if k.startswith("ssl_")]
        return urlunsplit(url._replace(path=f"/{db}", query=urlencode(tls)))
    return None
