"""Who reaches which person's records through the API: the permission classes of the identities API."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS

from accounts import roles
from accounts.roles import requires
from core.api import get_visible_or_404
from identities import selectors
from identities.models import Identity

# Reading people: everyone's (view_identities) or one's own enrollments (enroll).
CanReadIdentities = requires(*selectors.READ_IDENTITIES)


class CanReadOrChangeIdentity(CanReadIdentities):
    """Reads as CanReadIdentities; erasing (DELETE) needs erase; other writes need manage_identities, or
    enroll and the identity being one's own enrollment (checked per object, behind the queryset filter that
    hides other people's)."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method == "DELETE":
            return roles.can(request.user, "erase")
        return (request.method in SAFE_METHODS or roles.can(request.user, "manage_identities")
                or roles.can(request.user, "enroll"))

    def has_object_permission(self, request, view, obj) -> bool:
        identity = obj if isinstance(obj, Identity) else obj.identity
        if request.method in SAFE_METHODS:
            return selectors.may_read_identity(request.user, identity)
        if request.method == "DELETE":
            return roles.can(request.user, "erase")
        return selectors.may_change_identity(request.user, identity)


class IdentityListPermission(CanReadIdentities):
    """Listing as CanReadIdentities; creating a person needs enroll or manage_identities."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return (request.method in SAFE_METHODS or roles.can(request.user, "enroll")
                or roles.can(request.user, "manage_identities"))


def visible_identity(request, view, identity_id: int) -> Identity:
    identity = get_visible_or_404(selectors.listed_identities(request.user), identity_id, "identity")
    view.check_object_permissions(request, identity)
    return identity
