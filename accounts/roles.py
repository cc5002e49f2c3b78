"""Who may do what: the capabilities of the platform and the four roles that bundle them.

One table for the whole site. Pages (`capability_required`), API views
(`requires`) and templates (`caps`) ask `can(user, capability)`;
nothing else decides access. Capabilities are Django permissions of `accounts.Capability`
(a table-less model); each role is a Django group holding exactly its capabilities,
kept in step with this file after every `migrate`. A user may hold several roles, or
single capabilities granted in the admin (e.g. `enroll` for one API client).

Ownership narrows two capabilities: without `view_identities` an operator sees only the
people they enrolled, and without `view_faces` only those people's photos and crops.
"""

from __future__ import annotations

from functools import wraps

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

CAPABILITIES: dict[str, str] = {
    "view_identities": "Read every identity, its consents and photo records",
    "view_faces": "See any face photo and face crop",
    "enroll": "Enroll people with their consent and upload their photos (own enrollments)",
    "manage_identities": "Edit any identity, record or withdraw any consent, upload photos to anyone",
    "erase": "Erase an identity (right to erasure)",
    "review": "Approve or reject enrollment photos",
    "identify": "Identify faces (1:N) against everyone enrolled",
    "verify": "Verify a face against a photo or an enrolled person (1:1)",
    "choose_liveness": "Choose the liveness policy (off, report, enforce) of an identify or verify request",
    "view_audit_log": "Read the audit log",
    "run_reports": "Run evaluation reports and apply their thresholds",
    "manage_reenrollment": "See and dismiss re-enrollment requests",
    "manage_tokens": "Create, list and revoke API tokens",
    "manage_webhooks": "Manage webhook subscriptions, see their deliveries, replay and resume them",
    "manage_cameras": "Register cameras, see their state and sightings, and unknown people's crops where kept",
}

ADMIN, REVIEWER, OPERATOR, API_CLIENT = "admin", "reviewer", "operator", "api_client"

ROLES: dict[str, frozenset[str]] = {
    ADMIN: frozenset(CAPABILITIES),
    REVIEWER: frozenset({"view_identities", "view_faces", "review"}),
    OPERATOR: frozenset({"enroll", "identify", "verify"}),
    # Token only: an api_client account cannot sign in to the pages or use a session on the API.
    API_CLIENT: frozenset({"identify", "verify"}),
}

ROLE_DESCRIPTIONS = {
    ADMIN: "Everything, including the Django admin",
    REVIEWER: "The review queue; reads identities and their photos",
    OPERATOR: "Enrolls people with consent on their behalf; identifies and verifies",
    API_CLIENT: "API tokens only: identify and verify (enroll when granted)",
}

APP_LABEL = "accounts"


def can(user, capability: str) -> bool:
    """Whether this user holds the capability (through a role, a direct grant, or as superuser)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.has_perm(f"{APP_LABEL}.{capability}")


def is_token_only(user) -> bool:
    """An api_client account: it may act through API tokens, never through a session."""
    if not (user and user.is_authenticated):
        return False
    cached = getattr(user, "_facerec_token_only", None)
    if cached is None:
        cached = user.groups.filter(name=API_CLIENT).exists()
        user._facerec_token_only = cached
    return cached


def capabilities_of(user) -> frozenset[str]:
    return frozenset(name for name in CAPABILITIES if can(user, name))


def ensure_roles(sender=None, **_kwargs) -> None:
    """Create the capability permissions and the role groups, each holding exactly its capabilities; the
    admin group also holds every model permission (the Django admin's).

    A post_migrate handler: runs after every `migrate` (and after the test database's flushes),
    once the last app's permissions exist, so a changed table here reaches every database
    without a data migration.
    """
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not None and with_models and sender is not with_models[-1]:
        return
    content_type, _ = ContentType.objects.get_or_create(app_label=APP_LABEL, model="capability")
    permissions = {}
    for codename, name in CAPABILITIES.items():
        permission, _ = Permission.objects.update_or_create(
            content_type=content_type, codename=codename, defaults={"name": name})
        permissions[codename] = permission
    for role, capabilities in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            group.permissions.set(Permission.objects.all())
        else:
            group.permissions.set([permissions[name] for name in capabilities])


def assign_role(user, role: str) -> None:
    """Put the user in the role's group; an admin also gets the Django admin (is_staff)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    user.groups.add(Group.objects.get(name=role))
    if role == ADMIN and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    for attr in ("_perm_cache", "_group_perm_cache", "_user_perm_cache", "_facerec_token_only"):
        user.__dict__.pop(attr, None)


def check_page_access(user, *capabilities: str) -> None:
    """PermissionDenied unless the user may use pages and holds one of the capabilities."""
    if is_token_only(user):
        raise PermissionDenied("this account uses API tokens only")
    if not any(can(user, name) for name in capabilities):
        raise PermissionDenied(f"you need the capability {' or '.join(capabilities)}")


def capability_required(*capabilities: str):
    """Page decorator: signed in (else the login page), holding one of the capabilities and allowed a
    session (else 403)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            check_page_access(request.user, *capabilities)
            return view(request, *args, **kwargs)

        wrapper.required_capabilities = capabilities
        return wrapper

    return decorator


# --- API views ----------------------------------------------------------------------


class _CapabilityPermission(BasePermission):
    """Signed in, allowed on the API this way, and holding one of `capabilities`."""

    capabilities: tuple[str, ...] = ()
    message = "you do not have permission to do this"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        # A session of an api_client account; a token's request skips the group query.
        if request.auth is None and is_token_only(user):
            self.message = "this account uses API tokens only"
            return False
        if not any(can(user, name) for name in self.capabilities):
            self.message = f"you need the capability {' or '.join(self.capabilities)}"
            return False
        return True


def requires(*capabilities: str) -> type[BasePermission]:
    """A permission class for views needing one of these capabilities, e.g. `requires("review")`."""
    for name in capabilities:
        if name not in CAPABILITIES:
            raise ValueError(f"unknown capability {name!r}")
    return type(f"Requires_{'_or_'.join(capabilities)}", (_CapabilityPermission,), {"capabilities": capabilities})
