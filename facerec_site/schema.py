"""OpenAPI schema additions that hold for every operation, applied after drf-spectacular built the schema.

Any call can be throttled (429, facerec_site.throttling) or meet a database outage (503,
core.db_errors); both answer the one error shape with Retry-After. Documenting
them here keeps each view's `error_responses(...)` about what is particular to it.
"""

from __future__ import annotations

import copy

from core import db_errors

ERROR_COMPONENT = "Error"  # core.api.ErrorSerializer's ref_name
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
}
RETRY_RESPONSES = {
    "429": "Too many calls: a rate limit (FACEREC_API_*_RATE) was reached; error code `throttled`. "
           "Retry after the seconds in Retry-After.",
    "503": f"A service the call needs is unavailable, e.g. the database (error code `{db_errors.CODE}`, "
           f"Retry-After {db_errors.RETRY_AFTER_S} s). Retry after the seconds in Retry-After.",
}


def document_retry_responses(result: dict, generator, request, public) -> dict:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: 429 and 503 with the Error body and Retry-After on
    every operation; a 503 a view documented already (job status) gains the header and, when it has
    none, the description."""
    error_ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    if ERROR_COMPONENT not in result.get("components", {}).get("schemas", {}):
        raise RuntimeError(f"the {ERROR_COMPONENT} schema component is missing: did ErrorSerializer lose "
                           "its ref_name?")
    for path_item in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in RETRY_RESPONSES.items():
                response = responses.setdefault(status, {"content": {"application/json": {"schema": dict(error_ref)}}})
                if not response.get("description"):
                    response["description"] = description
                response.setdefault("headers", {}).update(copy.deepcopy(RETRY_AFTER_HEADER))
            operation["responses"] = dict(sorted(responses.items()))
    return result
