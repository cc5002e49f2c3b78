"""Role and capability changes are audited however they are made: the Django admin, a service, the shell."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.roles import assign_role
from audit.models import AuditLog
from tests.users import make_user

pytestmark = pytest.mark.django_db


def entries(action: str) -> list[dict]:
    return list(AuditLog.objects.filter(action=action).order_by("id").values("actor_name", "target_id", "details"))


def test_assigning_and_removing_a_role_is_audited_without_an_actor_outside_a_request():
    carol = make_user("carol", password=None)
    assign_role(carol, "reviewer")
    carol.groups.remove(Group.objects.get(name="reviewer"))
    Group.objects.get(name="operator").user_set.add(carol)  # from the group's side too

    assert entries("role.grant") == [
        {"actor_name": "system", "target_id": str(carol.pk), "details": {"username": "carol", "role": "reviewer"}},
        {"actor_name": "system", "target_id": str(carol.pk), "details": {"username": "carol", "role": "operator"}},
    ]
    assert entries("role.revoke") == [
        {"actor_name": "system", "target_id": str(carol.pk), "details": {"username": "carol", "role": "reviewer"}}]


def test_an_admin_changing_roles_in_the_django_admin_is_the_recorded_actor(client):
    admin = make_user("root-admin", "admin")
    dave = make_user("dave", "operator", password=None)
    client.force_login(admin)
    form = client.get(f"/admin/auth/user/{dave.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(groups=[Group.objects.get(name="reviewer").pk], user_permissions=[],
                last_login_0="", last_login_1="", date_joined_0="2026-01-01", date_joined_1="00:00:00")
    response = client.post(f"/admin/auth/user/{dave.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""

    assert entries("role.grant")[-1] == {"actor_name": "root-admin", "target_id": str(dave.pk),
                                         "details": {"username": "dave", "role": "reviewer"}}
    assert entries("role.revoke")[-1] == {"actor_name": "root-admin", "target_id": str(dave.pk),
                                          "details": {"username": "dave", "role": "operator"}}


def test_granting_a_single_capability_is_audited_and_other_permissions_are_not():
    erin = make_user("erin", password=None)
    erin.user_permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="enroll"),
                              Permission.objects.get(codename="view_identity"))
    assert [e["details"] for e in entries("capability.grant")] == [{"username": "erin", "capability": "enroll"}]
