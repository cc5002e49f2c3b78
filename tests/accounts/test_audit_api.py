"""The audit log's REST API (accounts.audit_api): read-only, for view_audit_log, filterable."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from identities import services
from tests.api_helpers import assert_error

pytestmark = pytest.mark.django_db

API = "/api/v1"


def make_person(name: str = "George W Bush", *, actor=None):
    identity = services.create_identity(display_name=name, actor=actor)
    services.record_consent(identity=identity, given_by_name=name, purpose="building access",
                            wording_version="v1", actor=actor)
    return identity


def test_audit_log_is_staff_only_read_only_and_filterable(admin_api, operator_api, admin):
    person = make_person(actor=admin)
    listing = admin_api.get(f"{API}/audit-log/").json()
    # Newest first, after the fixtures' two role grants.
    assert [e["action"] for e in listing["results"]] == ["consent.record", "identity.create", "role.grant",
                                                         "role.grant"]
    created = admin_api.get(f"{API}/audit-log/", {"action": "identity.create",
                                                  "target_type": "identities.identity",
                                                  "target_id": person.pk}).json()
    assert created["count"] == 1 and created["results"][0]["actor_name"] == admin.username

    assert_error(operator_api.get(f"{API}/audit-log/"), 403, "permission_denied")
    for method in ("post", "put", "patch", "delete"):
        assert_error(getattr(admin_api, method)(f"{API}/audit-log/", {}, format="json"), 405,
                     "method_not_allowed")
    assert AuditLog.objects.count() == 4
