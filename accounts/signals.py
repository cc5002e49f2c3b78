"""Audit entries for role and capability changes, however they are made (admin, shell, services).

Group membership and direct permission grants are many-to-many changes on the user; the
actor is whoever is signed in to the request that made them (the system otherwise).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed

from accounts import roles
from audit import services as audit
from core import request_context


def _users_and_items(instance, reverse: bool, pk_set, item_model):
    """(users, items) touched by an m2m change seen from either side."""
    User = get_user_model()
    if reverse:  # group.user_set.add(...) / permission.user_set.add(...)
        return list(User.objects.filter(pk__in=pk_set or [])), [instance]
    return [instance], list(item_model.objects.filter(pk__in=pk_set or []))


def audit_role_change(sender, instance, action, reverse, model, pk_set, **_kwargs):
    if action == "pre_clear" and not reverse:
        action, groups = "post_remove", list(instance.groups.all())
        users = [instance]
    elif action in ("post_add", "post_remove"):
        users, groups = _users_and_items(instance, reverse, pk_set, Group)
    else:
        return
    verb = "role.grant" if action == "post_add" else "role.revoke"
    for user in users:
        for group in groups:
            if group.name in roles.ROLES:
                audit.record(action=verb, actor=request_context.current.get().user, target=user,
                             details={"username": user.get_username(), "role": group.name})


def audit_capability_change(sender, instance, action, reverse, model, pk_set, **_kwargs):
    if action not in ("post_add", "post_remove"):
        return
    users, permissions = _users_and_items(instance, reverse, pk_set, Permission)
    verb = "capability.grant" if action == "post_add" else "capability.revoke"
    for user in users:
        for permission in permissions:
            if permission.content_type.app_label == roles.APP_LABEL:
                audit.record(action=verb, actor=request_context.current.get().user, target=user,
                             details={"username": user.get_username(), "capability": permission.codename})


def connect() -> None:
    User = get_user_model()
    m2m_changed.connect(audit_role_change, sender=User.groups.through, dispatch_uid="accounts.audit_roles")
    m2m_changed.connect(audit_capability_change, sender=User.user_permissions.through,
                        dispatch_uid="accounts.audit_capabilities")
