"""Django admin for API tokens: a read-only list with a "revoke" action through accounts.services.

Tokens are made on the Tokens page, through the API or with `manage.py create_api_token`,
where the secret is shown once; nothing here can make, change or delete one.
"""

from __future__ import annotations

from django.contrib import admin, messages

from accounts import roles, services
from accounts.models import ApiToken
from core.admin import ViewOnlyAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ViewOnlyAdmin):
    list_display = ["name", "user", "prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    fields = ["name", "user", "prefix", "created_at", "created_by", "expires_at", "last_used_at", "revoked_at",
              "revoked_by"]  # never key_hash
    readonly_fields = fields
    actions = ["revoke_selected"]

    def has_module_permission(self, request) -> bool:
        return roles.can(request.user, "manage_tokens")

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.can(request.user, "manage_tokens")

    @admin.display(description="state")
    def state(self, token: ApiToken) -> str:
        return token.state

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for token in queryset:
            if token.revoked_at is None:
                services.revoke_token(token=token, actor=request.user)
                revoked += 1
        messages.success(request, f"{revoked} token{'s' if revoked != 1 else ''} revoked.")
