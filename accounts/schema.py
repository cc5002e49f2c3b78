"""The API schema's security scheme for accounts.authentication.ApiTokenAuthentication (HTTP bearer)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "frk_<prefix>_<secret>",
            "description": "An API token made by an administrator (Tokens page or POST /api/v1/tokens/), sent as "
                           "`Authorization: Bearer <token>` (`Token <token>` is accepted too).",
        }
