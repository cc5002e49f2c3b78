"""What every API view shares: the one error shape, strict input, pagination, get-visible-or-404.

Every error leaves the API as {"error": {"code", "message", "fields"}}; unexpected
ones are logged with the request id and answered with a generic 500, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from core import db_errors, request_context
from core.errors import DomainError

log = logging.getLogger(__name__)

_UNIQUE_VIOLATION = "23505"


class StrictInputSerializer(serializers.Serializer):
    """Base of every request body's serializer: a field the endpoint does not take is refused with a
    400 naming it (JSON and multipart alike), so a client's typo is never silently ignored."""

    def get_fields(self):
        # DRF's '"x" is not a valid choice.' leaves the client guessing: name the choices (short lists).
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.ChoiceField) and len(field.choices) <= 20:
                allowed = ", ".join(str(choice) for choice in field.choices)
                field.error_messages["invalid_choice"] = f'"{{input}}" is not a valid choice: one of {allowed}.'
        return fields

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["unknown field: this endpoint does not take it"] for name in unknown})
        return super().to_internal_value(data)


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every exception a view raises becomes one JSON shape."""
    request = context.get("request")
    headers = {}
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        body, code_status = error_body(exc.code, exc.message, fields), exc.status
    elif isinstance(exc, exceptions.ValidationError):
        fields = _field_messages(exc.detail)
        first = next(iter(fields.items()), None)
        message = f"invalid input: {first[0]}: {first[1][0]}" if first else "invalid input"
        body, code_status = error_body("invalid", message, fields), status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, Http404):
        body, code_status = error_body("not_found", str(exc) or "not found"), status.HTTP_404_NOT_FOUND
    elif isinstance(exc, DjangoPermissionDenied):
        message = str(exc) or "you do not have permission to do this"
        body, code_status = error_body("permission_denied", message), status.HTTP_403_FORBIDDEN
    elif isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = "%d" % exc.wait
        code = exc.detail.code if isinstance(exc.detail, exceptions.ErrorDetail) else exc.default_code
        body, code_status = error_body(code, str(exc.detail)), exc.status_code
    elif isinstance(exc, RequestDataTooBig):
        body, code_status = error_body("too_large", str(exc)), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, (TooManyFilesSent, TooManyFieldsSent)):
        body, code_status = error_body("too_many_parts", str(exc)), status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, SuspiciousOperation):
        body, code_status = error_body("bad_request", "the request was refused"), status.HTTP_400_BAD_REQUEST
    elif db_errors.is_database_unavailable(exc):  # an outage, not a bug: 503 + Retry-After
        body, code_status, unavailable_headers = db_errors.api_error(request, exc)
        headers.update(unavailable_headers)
    elif isinstance(exc, IntegrityError) and getattr(exc.__cause__, "sqlstate", None) == _UNIQUE_VIOLATION:
        # A race past the input checks: the database's unique constraint is the final word.
        body, code_status = error_body("conflict", "this conflicts with an existing record"), status.HTTP_409_CONFLICT
    else:
        request_id = getattr(request, "request_id", "") or request_context.current.get().request_id
        view = context.get("view")
        log.error("unexpected error in %s (request id %s)", type(view).__name__ if view else "API", request_id,
                  exc_info=exc)
        set_rollback()
        return Response(error_body("server_error", "unexpected error", request_id=request_id),
                        status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    set_rollback()
    return Response(body, status=code_status, headers=headers)


def not_found(request, exception=None):
    """handler404: a URL under /api/ that no route matches (e.g. a non-numeric id) answers the JSON error
    shape, as the views' own 404s do; other URLs keep Django's page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body("not_found", "no API endpoint at this URL"), status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """handler400: what Django refuses before any view runs (a forbidden Host header, a malformed
    request) answers the JSON error shape under /api/ too."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body("bad_request", "the request was refused"), status=status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def server_error(request):
    """handler500: an error outside the API views (a middleware) is a generic JSON 500 under /api/."""
    if request.path_info.startswith("/api/"):
        request_id = getattr(request, "request_id", "")
        return JsonResponse(error_body("server_error", "unexpected error", request_id=request_id),
                            status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)


def _field_messages(detail, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail to {"field" or "field.0.sub": [messages]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_field_messages(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            if item:
                out.update(_field_messages(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    messages = [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
    return {prefix or api_settings.NON_FIELD_ERRORS_KEY: messages}


class ErrorSerializer(serializers.Serializer):
    """The one error shape, for the schema."""

    class ErrorDetailSerializer(serializers.Serializer):
        code = serializers.CharField(help_text="Machine-readable, e.g. consent_required, not_found, invalid.")
        message = serializers.CharField()
        fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                       help_text="Messages per input field at fault; empty when none.")
        request_id = serializers.CharField(required=False, help_text="Only on 500: quote it when reporting.")

        class Meta:
            ref_name = "ErrorDetail"

    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


def error_responses(*codes: int) -> dict:
    """extend_schema(responses=...) entries documenting the error shape for these statuses."""
    return {code: ErrorSerializer for code in codes}


class Pagination(PageNumberPagination):
    """An invalid or out-of-range `page` is DRF's 404 (code not_found): list views document it."""

    page_size_query_param = "page_size"
    max_page_size = 200


def paginated_response(*, request, view, queryset, serializer_class, context: dict | None = None) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request, **(context or {})}).data
    return paginator.get_paginated_response(data)


def filtered_page(*, request, view, filter_serializer: type[serializers.Serializer],
                  select: Callable[..., QuerySet], serializer_class, context: dict | None = None) -> Response:
    """A list view's GET: the query string checked by `filter_serializer` (a 400 naming the field at fault),
    its values passed to `select` as keywords (a field's `source` names the keyword; an absent filter is not
    passed), one page of the result."""
    filters = filter_serializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return paginated_response(request=request, view=view, queryset=select(**filters.validated_data),
                              serializer_class=serializer_class, context=context)


def get_visible_or_404(queryset, pk: int, what: str):
    """Row `pk` of `queryset`, which the caller narrowed to what the user may see; any other id is a 404
    ("<what> #<pk> not found"), so a row the user may not see answers exactly like a missing one."""
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404(f"{what} #{pk} not found") from None


class IgnoreClientContentNegotiation(BaseContentNegotiation):
    """A file is answered whatever Accept says; errors are JSON (the first renderer)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
