"""Schemathesis against /api/schema/: generated requests, valid and invalid, to every operation.

As staff, as a non-staff user (token) and anonymously: no 5xx, and every answer matches the
schema (a documented status code, the documented content type and body). Bounded for the
suite: a few examples per operation and a fixed seed; FUZZ_SEED and FUZZ_MAX_EXAMPLES
explore further. The face pipeline's endpoints stay in: fuzzed bytes are not images, and
must be refused with a 4xx.

The operations are driven with hypothesis directly (`APIOperation.as_strategy`), one subtest
each, rather than with `schema.parametrize()`: schemathesis' lazy (fixture) schemas rename
pytest nodes through an attribute pytest 9.2 no longer has, and an eager schema would be
loaded through the whole Django stack at every collection of the suite.
"""

from __future__ import annotations

import itertools
import os

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st

from tests.api_fuzz.conftest import SCHEMA_PATH, Seeded, token_header

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

SEED = int(os.environ.get("FUZZ_SEED", "20240611"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
# The fewest operations a run may go through, whoever calls: every one, not a schema that lost some.
OPERATIONS = 26
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance"]


def load_schema(app) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"checks": {"enabled": False, **{name: {"enabled": True}
                                                                             for name in CHECKS}}})
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app, config=config)


def case_strategy(operation, seeded: Seeded) -> st.SearchStrategy:
    """Valid and invalid requests, to the ids the fuzzer draws (mostly a 404) or to seeded rows."""
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    names = [parameter.name for parameter in operation.path_parameters]
    seeded_paths = ([dict(zip(names, values)) for values in itertools.product(*(seeded.path_values[n] for n in names))]
                    if names else [])
    return st.one_of([operation.as_strategy(mode) for mode in modes]
                     + [operation.as_strategy(mode, path_parameters=path) for path in seeded_paths for mode in modes])


def fuzz(app, *, seeded: Seeded, headers: dict, max_examples: int, subtests) -> int:
    """Every operation of the schema, each in a subtest; returns how many there were."""
    schema = load_schema(app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Erasure last: until then the seeded identity keeps its photos, consents and requests.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    for operation in operations:
        # Health checks off: slow calls and mostly-refused inputs are the point here.
        @hypothesis.seed(SEED)
        @hypothesis.settings(max_examples=max_examples, deadline=None, database=None, print_blob=False,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=case_strategy(operation, seeded))
        def run(case):
            case.call_and_validate(headers=headers)

        with subtests.test(msg=operation.label):
            run()
    return len(operations)


def test_staff_calls_get_no_server_error_and_answers_match_the_schema(wsgi_app, seeded, admin, subtests):
    ran = fuzz(wsgi_app, seeded=seeded, headers=token_header(admin), max_examples=MAX_EXAMPLES,
               subtests=subtests)
    assert ran >= OPERATIONS  # every operation, not a schema that lost some


def test_non_staff_calls_get_no_server_error_and_answers_match_the_schema(wsgi_app, seeded, operator, subtests):
    ran = fuzz(wsgi_app, seeded=seeded, headers=token_header(operator), max_examples=max(3, MAX_EXAMPLES // 3),
               subtests=subtests)
    assert ran >= OPERATIONS


def test_anonymous_calls_get_no_server_error_and_answers_match_the_schema(wsgi_app, seeded, subtests):
    ran = fuzz(wsgi_app, seeded=seeded, headers={}, max_examples=max(3, MAX_EXAMPLES // 3), subtests=subtests)
    assert ran >= OPERATIONS
