"""Upload size limits enforced before a view runs: the whole body by its Content-Length, each file as it arrives.

A request announcing more than FACEREC_MAX_REQUEST_BYTES is answered 413 at once, with
none of its body read: the JSON error shape under /api/, a short page elsewhere. Each
file is held to FACEREC_MAX_UPLOAD_BYTES while it is received: the API views that take
files add MaxUploadSizeHandler, which refuses it there; for the pages this middleware adds
PageUploadSizeHandler, which stops keeping the file at the limit and gives the form an
empty OversizedUpload that the form refuses by its size, beside its field. A body sent
without a Content-Length (chunked) is not read by Django under WSGI at all.

A route that takes one large file (the video upload) marks its view with `large_upload`: it
gets its own per-file limit (the setting it names) and a body limit of that plus
FRAMING_BYTES, and every other route keeps the photo limits.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.html import escape

from core.api import error_body
from core.errors import UploadTooLarge

MIB = 1024 * 1024
PHOTO_LIMIT_SETTING = "FACEREC_MAX_UPLOAD_BYTES"
# Room for the other fields and the multipart framing around a large route's one file.
FRAMING_BYTES = MIB

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Upload too large</title></head>
<body>
<h1>Upload too large</h1>
<p>{message}</p>
<p>{advice}</p>
</body></html>
"""


def content_length(request) -> int | None:
    """The Content-Length the client announced; None when absent or not a number."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def large_upload(limit_setting: str):
    """Marks a view (a function, or an APIView class) that takes one file larger than a photo: its files are
    held to settings.<limit_setting> and its body to that plus FRAMING_BYTES, instead of the photo limits.
    Put it outermost, above the other decorators."""
    def mark(view):
        view.upload_limit_setting = limit_setting
        return view
    return mark


def route_limit_setting(request) -> str | None:
    """The per-file limit setting `large_upload` gave the view of this URL; None: the photo limits."""
    try:
        view = resolve(request.path_info, getattr(request, "urlconf", None)).func
    except Resolver404:
        return None
    return getattr(view, "upload_limit_setting", None) or getattr(getattr(view, "view_class", None),
                                                                   "upload_limit_setting", None)


def request_limit(limit_setting: str | None) -> int:
    if limit_setting is None:
        return settings.FACEREC_MAX_REQUEST_BYTES
    return getattr(settings, limit_setting) + FRAMING_BYTES


def too_large_response(request, *, length: int, limit: int, limit_setting: str | None = None) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body("too_large", f"the request body ({length} bytes) is larger than the "
                                                    f"limit of {limit} bytes"), status=413)
    message = f"This upload ({length / MIB:.1f} MB) is larger than the limit of {limit / MIB:.0f} MB."
    if limit_setting is None:
        file_limit = settings.FACEREC_MAX_UPLOAD_BYTES / MIB
        advice = f"Go back and send fewer photos at once, each at most {file_limit:g} MB."
    else:
        advice = f"Go back and send a smaller file, at most {getattr(settings, limit_setting) / MIB:g} MB."
    page = _PAGE.format(message=escape(message), advice=escape(advice))
    return HttpResponse(page, status=413, content_type="text/html; charset=utf-8")


class UploadLimitsMiddleware:
    """Refuses an announced body over its route's limit unread; adds the per-file limit to page uploads.

    It must come before anything that reads request.POST (CsrfViewMiddleware does): upload
    handlers cannot change once the body is parsed. The URL is resolved only for a request with a
    body, so a GET pays nothing for it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = content_length(request)
        page_upload = request.content_type == "multipart/form-data" and not request.path_info.startswith("/api/")
        limit_setting = route_limit_setting(request) if length or page_upload else None
        limit = request_limit(limit_setting)
        if length is not None and length > limit:
            return too_large_response(request, length=length, limit=limit, limit_setting=limit_setting)
        if page_upload:
            request.upload_handlers.insert(0, PageUploadSizeHandler(request, limit_setting=limit_setting))
        return self.get_response(request)


class OversizedUpload(UploadedFile):
    """A page upload cut off at its limit while it was received: `size` says how much
    arrived, and it holds none of it (read() gives b"")."""

    def __init__(self, *, name: str, content_type: str | None, size: int, charset: str | None,
                 content_type_extra: dict | None):
        super().__init__(io.BytesIO(), name, content_type, size, charset, content_type_extra)

    def open(self, mode=None):
        self.file.seek(0)
        return self


class _FileSizeLimit(FileUploadHandler):
    """Holds each file to settings.<limit_setting> (read as the file starts, so a changed setting applies);
    FACEREC_MAX_UPLOAD_BYTES unless the route is a `large_upload`."""

    def __init__(self, request=None, *, limit_setting: str | None = None):
        super().__init__(request)
        self.limit_setting = limit_setting or PHOTO_LIMIT_SETTING

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.max_bytes = getattr(settings, self.limit_setting)

    def past_limit(self, raw_data: bytes, start: int) -> bool:
        return start + len(raw_data) > self.max_bytes


class MaxUploadSizeHandler(_FileSizeLimit):
    """For the API: refuses a file (413) as soon as it passes its limit, before the rest is read or spooled."""

    def receive_data_chunk(self, raw_data, start):
        if self.past_limit(raw_data, start):
            raise UploadTooLarge(f"{self.file_name}: more than the limit of {self.max_bytes} bytes",
                                 field=self.field_name, detail={"file": self.file_name})
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers store the file


class PageUploadSizeHandler(_FileSizeLimit):
    """For the pages: keeps nothing of a file past its limit and hands the form an
    OversizedUpload instead, so the form shows its "too large" error rather than the request failing.

    The rest of the file is still read off the connection (and dropped): the form's other
    fields may follow it. FACEREC_MAX_REQUEST_BYTES bounds that.
    """

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.oversized = False

    def receive_data_chunk(self, raw_data, start):
        if not self.oversized and self.past_limit(raw_data, start):
            self.oversized = True
            self._drop_partial_copies()
        return None if self.oversized else raw_data  # None: the next handlers get nothing more

    def file_complete(self, file_size):
        if not self.oversized:
            return None  # the next handlers have the file
        return OversizedUpload(name=self.file_name, content_type=self.content_type, size=file_size,
                               charset=self.charset, content_type_extra=self.content_type_extra)

    def _drop_partial_copies(self) -> None:
        """What the next handlers kept of this file so far (memory, or a temporary file that closing deletes);
        `file` is where Django's parser itself looks for them."""
        for handler in self.request.upload_handlers:
            if handler is not self and getattr(handler, "file", None) is not None:
                handler.file.close()
