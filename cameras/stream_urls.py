"""Stream URLs: which are accepted, their credentials masked for display, sealed for storage.

Accepted: rtsp(s)://, http(s):// (MJPEG or MPEG-TS) and, with FACEREC_CAMERA_FILES on (testing), an
absolute file path: off by default, so an admin cannot probe or read the server's files. The URL's
user:password and secret-looking query values are what `redact` masks; the whole URL is sealed.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.conf import settings

from core.errors import DomainError
from core.sealed import seal, unseal

PURPOSE = "cameras.stream-url"
SCHEMES = ("rtsp", "rtsps", "http", "https")
MASK = "***"
SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "passwd", "token", "key", "auth", "secret",
                               "access_token", "api_key", "apikey", "signature", "sig"})
MAX_URL_LENGTH = 2000


class InvalidStreamUrl(DomainError):
    code = "invalid_stream_url"
    status = 400


def check(url: str) -> str:
    """The URL, stripped, if it is one a watcher may open; else InvalidStreamUrl (a 400 with the reason)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_LENGTH or any(ch in url for ch in "\r\n\t\0 "):
        raise InvalidStreamUrl("Give the stream's URL (rtsp://, http(s)://) or a file's absolute path, "
                               f"without spaces, at most {MAX_URL_LENGTH} characters.")
    if url.startswith("/"):
        if not settings.FACEREC_CAMERA_FILES:
            raise InvalidStreamUrl("A file path is a camera only where FACEREC_CAMERA_FILES is on (testing, "
                                   "demonstrations); give the stream's rtsp:// or http(s):// URL.")
        try:
            found = os.path.isfile(url)
        except (ValueError, UnicodeError):
            found = False
        if not found:
            raise InvalidStreamUrl("No such file on this machine.")
        return url
    try:
        parts = urlsplit(url)
        parts.hostname, parts.port  # noqa: B018 (raise on a bad host or port)
    except ValueError as exc:
        raise InvalidStreamUrl("The URL's host or port is not valid (a port is a number from 0 to 65535).") from exc
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidStreamUrl(f"The URL must start with one of {', '.join(s + '://' for s in SCHEMES)} "
                               "(or be a file's absolute path).")
    if not parts.hostname:
        raise InvalidStreamUrl("The URL names no host.")
    return url


def redact(url: str) -> str:
    """The URL with user:password and secret-looking query values masked: safe to show and to log."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{MASK}@{netloc}"
    query = urlencode([(k, MASK if k.lower() in SECRET_QUERY_KEYS else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*", quote_via=quote)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def secrets_of(url: str) -> list[str]:
    """The parts of the URL that must never be shown or logged (for the log filter and the tests)."""
    if url.startswith("/"):
        return []
    parts = urlsplit(url)
    found = [parts.password, parts.username if parts.password else None]
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in SECRET_QUERY_KEYS]
    return [s for s in found if s and len(s) >= 3]


def sealed(url: str) -> str:
    return seal(url, purpose=PURPOSE)


def opened(token: str) -> str:
    return unseal(token, purpose=PURPOSE)
