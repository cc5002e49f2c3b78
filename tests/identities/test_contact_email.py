"""A person's optional contact email: one check in the service, the API, the pages, the admin, erasure, audit.

The audit log records that the address was set or changed, never the address.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audit.models import AuditLog
from core.errors import DomainError
from enrollment.services import erase_identity
from identities import services
from identities.models import Identity

pytestmark = pytest.mark.django_db

API = "/api/v1"
ADDRESS = "ada.lovelace@example.org"


def assert_no_address_in_the_audit_log(*addresses: str) -> None:
    text = json.dumps([entry.details for entry in AuditLog.objects.all()])
    assert not any(address.lower() in text.lower() for address in addresses)


# --- the one check and the services ---------------------------------------------------------


def test_a_contact_email_is_stripped_and_blank_means_none():
    assert services.clean_contact_email(f"  {ADDRESS} ") == ADDRESS
    assert services.clean_contact_email("") == "" and services.clean_contact_email(None) == ""


@pytest.mark.parametrize("value", ["not-an-email", "ada@", "@example.org", "a@b.org, c@d.org", 42,
                                   "x" * 250 + "@example.org"])
def test_a_value_that_is_not_one_email_address_is_refused_without_echoing_it(value):
    with pytest.raises(DomainError) as caught:
        services.clean_contact_email(value)
    assert (caught.value.code, caught.value.field, caught.value.status) == ("invalid_contact_email",
                                                                            "contact_email", 400)
    assert str(value) not in caught.value.message


def test_the_audit_log_says_a_contact_email_was_set_or_changed_but_never_which(admin):
    identity = services.create_identity(display_name="Ada", contact_email=ADDRESS, actor=admin)
    assert Identity.objects.get(pk=identity.pk).contact_email == ADDRESS
    assert AuditLog.objects.get(action="identity.create").details == {"external_ref": False, "contact_email": True}

    services.update_identity(identity=identity, contact_email="ada@new.example.org", actor=admin)
    assert Identity.objects.get(pk=identity.pk).contact_email == "ada@new.example.org"
    assert AuditLog.objects.get(action="identity.update").details == {"fields": ["contact_email"]}
    assert_no_address_in_the_audit_log(ADDRESS, "ada@new.example.org")


def test_update_refuses_a_bad_address_without_saving_anything(admin):
    identity = services.create_identity(display_name="Ada", contact_email=ADDRESS)
    with pytest.raises(DomainError):
        services.update_identity(identity=identity, notes="changed", contact_email="nope")
    stored = Identity.objects.get(pk=identity.pk)
    assert stored.contact_email == ADDRESS and stored.notes == ""


def test_erasure_blanks_the_contact_email(admin):
    identity = services.create_identity(display_name="Ada", contact_email=ADDRESS)
    erase_identity(identity=identity, actor=admin)
    assert Identity.objects.get(pk=identity.pk).contact_email == ""
    assert_no_address_in_the_audit_log(ADDRESS)


# --- API ------------------------------------------------------------------------------------


def test_the_api_creates_reads_updates_and_clears_the_contact_email(admin_api):
    created = admin_api.post(f"{API}/identities/", {"display_name": "Ada", "contact_email": f" {ADDRESS} "},
                             format="json")
    assert created.status_code == 201, created.content
    assert created.json()["contact_email"] == ADDRESS
    url = f"{API}/identities/{created.json()['id']}/"
    assert admin_api.get(url).json()["contact_email"] == ADDRESS
    assert admin_api.get(f"{API}/identities/").json()["results"][0]["contact_email"] == ADDRESS

    patched = admin_api.patch(url, {"contact_email": "ada@new.example.org"}, format="json")
    assert patched.status_code == 200 and patched.json()["contact_email"] == "ada@new.example.org"
    assert admin_api.patch(url, {"notes": "x"}, format="json").json()["contact_email"] == "ada@new.example.org"
    assert admin_api.patch(url, {"contact_email": ""}, format="json").json()["contact_email"] == ""
    assert admin_api.post(f"{API}/identities/", {"display_name": "Grace"}, format="json").json()[
        "contact_email"] == ""
    assert_no_address_in_the_audit_log(ADDRESS, "ada@new.example.org")


@pytest.mark.parametrize("value", ["not-an-email", "ada@", 42, None, ["a@b.org"]])
def test_a_bad_contact_email_is_a_400_naming_the_field(admin_api, value):
    response = admin_api.post(f"{API}/identities/", {"display_name": "Ada", "contact_email": value},
                              format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["contact_email"]
    assert not Identity.objects.exists()

    identity = services.create_identity(display_name="Grace", contact_email=ADDRESS)
    response = admin_api.patch(f"{API}/identities/{identity.pk}/", {"contact_email": value}, format="json")
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["contact_email"]
    assert Identity.objects.get(pk=identity.pk).contact_email == ADDRESS


def test_the_api_answers_a_blank_contact_email_after_erasure(admin_api):
    identity = services.create_identity(display_name="Ada", contact_email=ADDRESS)
    admin_api.delete(f"{API}/identities/{identity.pk}/")
    assert admin_api.get(f"{API}/identities/{identity.pk}/").json()["contact_email"] == ""


def test_the_schema_describes_the_contact_email(admin_api):
    schemas = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "components"]["schemas"]
    for name in ("IdentityCreateRequest", "PatchedIdentityUpdateRequest"):
        # An address, or blank (no address).
        field = schemas[name]["properties"]["contact_email"]
        assert {"type": "string", "format": "email"}.items() <= field["oneOf"][0].items()
    assert "contact_email" in schemas["Identity"]["properties"]


# --- pages and admin --------------------------------------------------------------------------


def consent_data() -> dict:
    return {"given_by": "self", "given_by_name": "Ada", "purpose": "building access", "wording_version": "v1",
            "expires_at": "", "consent_given": "on"}


def test_the_new_identity_page_takes_an_optional_contact_email_shown_on_the_detail_page(client, admin):
    client.force_login(admin)
    assert b'name="contact_email"' in client.get(reverse("identities:create")).content
    response = client.post(reverse("identities:create"), {"display_name": "Ada", "contact_email": ADDRESS,
                                                          **consent_data()})
    assert response.status_code == 302
    assert Identity.objects.get(display_name="Ada").contact_email == ADDRESS
    assert f"<dt>Contact email</dt><dd>{ADDRESS}</dd>" in client.get(response["Location"]).content.decode()

    without = client.post(reverse("identities:create"), {"display_name": "Grace", **consent_data()})
    assert without.status_code == 302 and Identity.objects.get(display_name="Grace").contact_email == ""
    assert "<dt>Contact email</dt><dd>—</dd>" in client.get(without["Location"]).content.decode()
    assert_no_address_in_the_audit_log(ADDRESS)


def test_an_invalid_contact_email_is_shown_beside_the_field_and_nothing_is_created(client, admin):
    client.force_login(admin)
    response = client.post(reverse("identities:create"), {"display_name": "Ada", "contact_email": "ada@",
                                                          **consent_data()})
    assert response.status_code == 200 and not Identity.objects.exists()
    assert response.context["identity_form"]["contact_email"].errors
    page = response.content.decode()
    start = page.index('<label for="id_contact_email">')
    assert "field-error" in page[start:page.index("</div>", start)]


def test_the_owner_sees_the_contact_email_on_the_detail_page(client, operator):
    identity = services.create_identity(display_name="Ada", contact_email=ADDRESS, actor=operator)
    client.force_login(operator)
    assert ADDRESS in client.get(reverse("identities:detail", args=[identity.pk])).content.decode()


def test_admin_edits_the_contact_email_through_the_service(admin_client):
    identity = services.create_identity(display_name="Ada", contact_email=ADDRESS)
    url = reverse("admin:identities_identity_change", args=[identity.pk])
    assert ADDRESS in admin_client.get(url).content.decode()
    form = {"display_name": "Ada", "external_ref": "", "notes": "", "attributes": "",
            "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0", "consents-MIN_NUM_FORMS": "0",
            "consents-MAX_NUM_FORMS": "1000"}
    assert admin_client.post(url, {**form, "contact_email": "ada@new.example.org"}).status_code == 302
    assert Identity.objects.get(pk=identity.pk).contact_email == "ada@new.example.org"
    assert AuditLog.objects.get(action="identity.update").details == {"fields": ["contact_email"]}
    refused = admin_client.post(url, {**form, "contact_email": "nope"})
    assert refused.status_code == 200
    assert Identity.objects.get(pk=identity.pk).contact_email == "ada@new.example.org"
    assert_no_address_in_the_audit_log(ADDRESS, "ada@new.example.org")
