"""Hostile and mistyped API bodies: every one a 4xx in the error shape, none a 500, nothing changed."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from facerec_site.parsers import MAX_JSON_DEPTH, nesting_depth_exceeds
from identities import services
from identities.models import Identity
from tests.users import make_user

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user("input-admin", "admin", password="x" * 12))
    return client


@pytest.fixture
def person() -> Identity:
    return services.create_identity(display_name="Ada Lovelace")


def post_raw(client: APIClient, url: str, body: str, method: str = "post"):
    return getattr(client, method)(url, data=body, content_type="application/json")


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_a_body_nested_a_hundred_thousand_levels_is_a_400_not_a_500(admin_client):
    deep = "[" * 100_000 + "]" * 100_000
    error = error_of(post_raw(admin_client, f"{API}/identities/", deep), 400)
    assert error["code"] == "parse_error" and "nested deeper" in error["message"]
    nested_object = '{"a":' * 50_000 + "1" + "}" * 50_000
    assert error_of(post_raw(admin_client, f"{API}/identities/", nested_object), 400)["code"] == "parse_error"
    assert not Identity.objects.exists()


def test_the_depth_scan_ignores_brackets_inside_strings():
    assert not nesting_depth_exceeds(json.dumps({"name": "[" * 1000, "x": "\\\"{{{"}), MAX_JSON_DEPTH)
    assert nesting_depth_exceeds("[" * (MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)


@pytest.mark.parametrize("number", ["1e309", "-1e999", "NaN", "Infinity"])
def test_a_number_no_field_can_hold_is_refused(admin_client, person, number):
    response = post_raw(admin_client, f"{API}/identities/{person.pk}/", f'{{"display_name": {number}}}', "patch")
    assert error_of(response, 400)["code"] == "parse_error"
    person.refresh_from_db()
    assert person.display_name == "Ada Lovelace"


def test_an_unknown_field_is_refused_and_named_instead_of_ignored(admin_client, person):
    response = admin_client.patch(f"{API}/identities/{person.pk}/", {"identity_id": "abc", "display_name": "Ada"},
                                  format="json")
    error = error_of(response, 400)
    assert error["code"] == "invalid" and set(error["fields"]) == {"identity_id"}
    assert "unknown field" in error["fields"]["identity_id"][0]
    person.refresh_from_db()
    assert person.display_name == "Ada Lovelace"  # the known field was not applied either


def test_unknown_fields_are_refused_on_creation_and_on_multipart_uploads(admin_client, person):
    created = admin_client.post(f"{API}/identities/", {"display_name": "Grace", "colour": "blue"}, format="json")
    assert set(error_of(created, 400)["fields"]) == {"colour"}
    assert not Identity.objects.filter(display_name="Grace").exists()

    probe = SimpleUploadedFile("p.jpg", b"\xff\xd8 not used", content_type="image/jpeg")
    identified = admin_client.post(f"{API}/identify", {"image": probe, "topk": 3}, format="multipart")
    assert set(error_of(identified, 400)["fields"]) == {"topk"}


def test_a_report_parameter_of_infinity_is_a_clear_error():
    from evaluation.reports import ParameterError, clean_parameters

    with pytest.raises(ParameterError, match="whole number"):
        clean_parameters("enrolled", {"seed": float("inf")})


def test_a_request_django_refuses_before_any_view_is_a_json_400_under_the_api(client):
    response = client.get(f"{API}/identities/", HTTP_HOST="evil.example")  # not in ALLOWED_HOSTS
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "bad_request"
    page = client.get("/identities/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and "json" not in page["Content-Type"]
