"""Consented attributes of a person (e.g. cohort): one check in the service, the API, the pages, erasure, audit."""

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
def refused(value) -> DomainError:
    with pytest.raises(DomainError) as caught:
        services.clean_attributes(value)
    assert (caught.value.code, caught.value.field, caught.value.status) == ("invalid_attributes", "attributes", 400)
    return caught.value


# --- the one check ------------------------------------------------------------------------


def test_good_attributes_are_stripped_numbers_become_text_and_empty_values_drop_their_key():
    cleaned = services.clean_attributes({"cohort": " 2024 ", "site.region-2_b": "north", "age_band": 30,
                                         "score": 1.5, "gone": "  "})
    assert cleaned == {"cohort": "2024", "site.region-2_b": "north", "age_band": "30", "score": "1.5"}
    assert services.clean_attributes({}) == {} and services.clean_attributes(None) == {}


def test_more_than_twenty_attributes_are_refused():
    assert len(services.clean_attributes({f"k{i}": "v" for i in range(20)})) == 20
    assert "at most 20" in refused({f"k{i}": "v" for i in range(21)}).message


@pytest.mark.parametrize("key", ["", "has space", "colon:", "ünicode", "x" * 51, "slash/"])
def test_keys_outside_letters_digits_underscore_dash_and_dot_are_refused(key):
    assert "letters, digits" in refused({key: "v"}).message


@pytest.mark.parametrize("value", [["a", "b"], {"nested": "x"}, None, True])
def test_values_that_are_not_text_or_numbers_are_refused(value):
    assert "'cohort'" in refused({"cohort": value}).message


def test_a_value_longer_than_a_hundred_characters_is_refused_without_echoing_it():
    assert services.clean_attributes({"note": "x" * 100}) == {"note": "x" * 100}
    error = refused({"note": "secret" * 17})
    assert "100 characters" in error.message and "secret" not in error.message


def test_values_with_line_breaks_or_nul_are_refused():
    refused({"cohort": "20\n24"})
    refused({"cohort": "20\x0024"})


def test_something_other_than_an_object_is_refused():
    refused(["cohort", "2024"])
    refused("cohort: 2024")


# --- services: create, update, erase, audit ---------------------------------------------------


def test_the_audit_log_records_attribute_keys_never_values(admin):
    identity = services.create_identity(display_name="Ada", attributes={"cohort": "2024", "site": "north"},
                                        actor=admin)
    assert Identity.objects.get(pk=identity.pk).attributes == {"cohort": "2024", "site": "north"}
    created = AuditLog.objects.get(action="identity.create")
    assert created.details["attribute_keys"] == ["cohort", "site"]

    services.update_identity(identity=identity, attributes={"cohort": "2025", "site": "north", "shift": "night"},
                             actor=admin)
    updated = AuditLog.objects.get(action="identity.update")
    assert updated.details == {"fields": ["attributes"], "attribute_keys": ["cohort", "shift"]}
    for entry in (created, updated):
        text = json.dumps(entry.details)
        assert not any(value in text for value in ("2024", "2025", "north", "night"))


def test_update_replaces_the_attributes_and_refuses_bad_ones_without_saving(admin):
    identity = services.create_identity(display_name="Ada", attributes={"cohort": "2024"})
    services.update_identity(identity=identity, attributes={"site": "north"})
    assert Identity.objects.get(pk=identity.pk).attributes == {"site": "north"}
    with pytest.raises(DomainError):
        services.update_identity(identity=identity, notes="changed", attributes={"bad key": "x"})
    stored = Identity.objects.get(pk=identity.pk)
    assert stored.attributes == {"site": "north"} and stored.notes == ""


def test_erasure_blanks_the_attributes(admin):
    identity = services.create_identity(display_name="Ada", attributes={"cohort": "2024"})
    erase_identity(identity=identity, actor=admin)
    assert Identity.objects.get(pk=identity.pk).attributes == {}
    assert "2024" not in json.dumps(AuditLog.objects.get(action="identity.erase").details)


# --- API ------------------------------------------------------------------------------------


def test_the_api_creates_reads_and_updates_attributes(admin_api):
    created = admin_api.post(f"{API}/identities/", {"display_name": "Ada",
                                                    "attributes": {"cohort": 2024, "site": " north "}},
                             format="json")
    assert created.status_code == 201, created.content
    assert created.json()["attributes"] == {"cohort": "2024", "site": "north"}
    identity_id = created.json()["id"]

    patched = admin_api.patch(f"{API}/identities/{identity_id}/", {"attributes": {"cohort": "2025"}},
                              format="json")
    assert patched.status_code == 200 and patched.json()["attributes"] == {"cohort": "2025"}
    assert admin_api.get(f"{API}/identities/{identity_id}/").json()["attributes"] == {"cohort": "2025"}
    listed = admin_api.get(f"{API}/identities/").json()["results"]
    assert [i["attributes"] for i in listed] == [{"cohort": "2025"}]

    untouched = admin_api.patch(f"{API}/identities/{identity_id}/", {"notes": "x"}, format="json")
    assert untouched.json()["attributes"] == {"cohort": "2025"}
    no_attributes = admin_api.post(f"{API}/identities/", {"display_name": "Grace"}, format="json")
    assert no_attributes.json()["attributes"] == {}


@pytest.mark.parametrize("attributes", [{"bad key": "x"}, {"cohort": ["a"]}, ["cohort"], {"cohort": None}])
def test_bad_attributes_are_a_400_naming_the_field(admin_api, attributes):
    response = admin_api.post(f"{API}/identities/", {"display_name": "Ada", "attributes": attributes},
                              format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {"attributes"}
    assert not Identity.objects.exists()

    identity = services.create_identity(display_name="Grace", attributes={"cohort": "2024"})
    response = admin_api.patch(f"{API}/identities/{identity.pk}/", {"attributes": attributes}, format="json")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"attributes"}
    assert Identity.objects.get(pk=identity.pk).attributes == {"cohort": "2024"}


def test_the_schema_describes_attributes_as_text_values(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for name in ("Identity", "IdentityCreateRequest", "PatchedIdentityUpdateRequest"):
        attributes = schema["components"]["schemas"][name]["properties"]["attributes"]
        assert attributes["type"] == "object" and attributes["additionalProperties"]["type"] == "string"


# --- pages and admin --------------------------------------------------------------------------


def consent_data() -> dict:
    return {"given_by": "self", "given_by_name": "Ada", "purpose": "building access", "wording_version": "v1",
            "expires_at": "", "consent_given": "on"}


def test_the_new_identity_page_takes_key_value_lines_and_the_detail_page_shows_them(client, admin):
    client.force_login(admin)
    assert b'name="attributes"' in client.get(reverse("identities:create")).content
    response = client.post(reverse("identities:create"), {
        "display_name": "Ada", "attributes": "cohort: 2024\r\nsite: north\r\n\r\n", **consent_data()})
    assert response.status_code == 302
    identity = Identity.objects.get(display_name="Ada")
    assert identity.attributes == {"cohort": "2024", "site": "north"}

    page = client.get(response["Location"]).content.decode()
    assert "<td>cohort</td><td>2024</td>" in page and "<td>site</td><td>north</td>" in page
    assert "used only to break evaluation reports down; record only with consent" in page.lower()


def test_the_detail_page_has_no_attributes_table_without_attributes(client, admin):
    client.force_login(admin)
    identity = services.create_identity(display_name="Ada")
    assert b'id="attributes"' not in client.get(reverse("identities:detail", args=[identity.pk])).content


@pytest.mark.parametrize(("lines", "message"), [
    ("cohort 2024", "Line 1: write it as"),
    ("cohort: 2024\nbad key: x", "letters, digits"),
    ("cohort: 2024\ncohort: 2025", "given twice"),
])
def test_an_invalid_attribute_line_is_shown_beside_the_field_and_nothing_is_created(client, admin, lines, message):
    client.force_login(admin)
    response = client.post(reverse("identities:create"), {"display_name": "Ada", "attributes": lines,
                                                           **consent_data()})
    assert response.status_code == 200
    assert not Identity.objects.exists()
    field = response.context["identity_form"]["attributes"]
    assert any(message in error for error in field.errors)
    page = response.content.decode()
    start = page.index('<label for="id_attributes">')
    assert "field-error" in page[start:page.index("</div>", start)]  # beside the field, not above the form


def test_the_erase_page_says_attributes_are_blanked(client, admin):
    client.force_login(admin)
    identity = services.create_identity(display_name="Ada", attributes={"cohort": "2024"})
    assert b"notes and attributes" in client.get(reverse("identities:erase", args=[identity.pk])).content
    client.post(reverse("identities:erase", args=[identity.pk]))
    assert Identity.objects.get(pk=identity.pk).attributes == {}


def test_admin_edits_attributes_as_lines_through_the_service(admin_client):
    identity = services.create_identity(display_name="Ada", attributes={"cohort": "2024"})
    url = reverse("admin:identities_identity_change", args=[identity.pk])
    assert "cohort: 2024" in admin_client.get(url).content.decode()
    form = {"display_name": "Ada", "external_ref": "", "notes": "", "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0", "consents-MIN_NUM_FORMS": "0", "consents-MAX_NUM_FORMS": "1000"}

    assert admin_client.post(url, {**form, "attributes": "cohort: 2025\nsite: north"}).status_code == 302
    assert Identity.objects.get(pk=identity.pk).attributes == {"cohort": "2025", "site": "north"}
    assert AuditLog.objects.get(action="identity.update").details == {"fields": ["attributes"],
                                                                      "attribute_keys": ["cohort", "site"]}

    refused_page = admin_client.post(url, {**form, "attributes": "bad key: x"})
    assert refused_page.status_code == 200 and b"letters, digits" in refused_page.content
    assert Identity.objects.get(pk=identity.pk).attributes == {"cohort": "2025", "site": "north"}
