"""The OpenAPI schema documents, on every operation, the 429 (throttled) and 503 (outage) answers with Retry-After."""

from __future__ import annotations

import pytest

from core import db_errors
from tests.api_helpers import api_client, assert_error
from tests.users import make_user

pytestmark = pytest.mark.django_db

METHODS = ("get", "put", "post", "delete", "patch")
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(django_user_model) -> dict:
    response = api_client(make_user("schema-reader", "admin")).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def test_every_operation_documents_429_and_503_with_the_error_body_and_retry_after(schema):
    found = list(operations(schema))
    assert len(found) >= 26
    for label, operation in found:
        for status in ("429", "503"):
            response = operation["responses"].get(status)
            assert response is not None, f"{label} lacks {status}"
            assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, label
            assert response["description"], label
            header = response["headers"]["Retry-After"]
            assert header["schema"]["type"] == "integer", label
    assert "ErrorDetail" in schema["components"]["schemas"] and "Error" in schema["components"]["schemas"]


def test_the_descriptions_name_the_codes_clients_see(schema):
    _, operation = next(operations(schema))
    assert "throttled" in operation["responses"]["429"]["description"]
    assert db_errors.CODE in operation["responses"]["503"]["description"]


def test_a_throttled_call_answers_what_the_schema_says(settings, django_user_model):
    settings.FACEREC_API_RATE = "1/min"
    client = api_client(make_user("schema-throttled", "admin"))
    client.get("/api/v1/identities/")
    response = client.get("/api/v1/identities/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
