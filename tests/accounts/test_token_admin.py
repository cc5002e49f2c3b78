"""The Django admin's API tokens: a read-only list for manage_tokens, revoking through the service."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import ApiToken
from audit.models import AuditLog

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_apitoken_changelist")


def test_admins_see_tokens_read_only_without_their_hash(client, admin, kiosk):
    token, plaintext = services.create_token(user=kiosk, name="door-1", actor=admin)
    client.force_login(admin)
    listed = client.get(CHANGELIST)
    assert listed.status_code == 200 and b"door-1" in listed.content
    detail = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    assert detail.status_code == 200
    for response in (listed, detail):
        assert token.key_hash.encode() not in response.content and plaintext.encode() not in response.content
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    assert client.get(reverse("admin:accounts_apitoken_delete", args=[token.pk])).status_code == 403


def test_the_revoke_action_revokes_through_the_service(client, admin, kiosk):
    first, _ = services.create_token(user=kiosk, name="door-1", actor=admin)
    second, _ = services.create_token(user=kiosk, name="door-2", actor=admin)
    client.force_login(admin)
    response = client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
                           follow=True)
    assert response.status_code == 200 and b"2 tokens revoked" in response.content
    assert ApiToken.objects.filter(revoked_at__isnull=False, revoked_by=admin).count() == 2
    assert AuditLog.objects.filter(action="token.revoke").count() == 2


def test_other_staff_without_manage_tokens_do_not_see_them(client, django_user_model, kiosk, admin):
    services.create_token(user=kiosk, name="door-1", actor=admin)
    staff = django_user_model.objects.create_user("plain-staff", password="x" * 12, is_staff=True)
    client.force_login(staff)
    assert client.get(CHANGELIST).status_code == 403
