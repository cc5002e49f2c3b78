"""A short run of bench/load_bench.py in the suite: its own code against a live server and worker.

No timing is asserted (the machine may be busy); what is: every operation of the mix ran,
nothing failed (no 5xx, no refused connection, no photo the worker failed on, no 429: the
suite's rates are out of reach, see tests/conftest.py), and the people the uploads created
were erased through the API afterwards.
"""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from bench import load_bench
from identities.models import Identity
from tests.users import make_user

PASSWORD = "load-smoke-Pa55word!"

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_mixed_load_runs_every_operation_without_errors_and_erases_its_uploads(live_server, celery_worker,
                                                                                 django_user_model):
    make_user("load-bench", "admin", password=PASSWORD)
    api = load_bench.Api.login(live_server.url, "load-bench", PASSWORD)  # session and CSRF, as --username does
    # Two people with two photos each keep the worker's share of the set-up short.
    workload = load_bench.prepare(api, clients=2, people=load_bench.GALLERY_PEOPLE[:2], photos=(1, 2),
                                  n_strangers=8, timeout_s=120)
    mix = load_bench.parse_mix(load_bench.DEFAULT_MIX)

    # Each client does half of the mix's cycle from its own offset: together they cover it, so
    # every operation runs, some at the same time.
    result = load_bench.run_load(api, workload, mix=mix, clients=2, duration_s=120,
                                 ops_per_client=len(load_bench.schedule(mix)) // 2)
    load_bench.finish_uploads(api, result, timeout_s=120)
    load_bench.erase_created(api, result)

    print(load_bench.report(result, mix))  # shown with -s, or on failure
    assert set(result.ops) == set(load_bench.OPERATIONS)
    assert [op for op, stats in result.ops.items() if stats.ok == 0] == []  # each ran, and succeeded
    assert dict(result.errors) == {}
    assert sum(result.processing.values()) == len(result.uploaded_photos) > 0
    created = Identity.objects.filter(pk__in=result.created_identities)
    assert len(result.created_identities) == result.ops["upload"].ok
    assert set(created.values_list("status", flat=True)) == {Identity.Status.ERASED}
    assert AuditLog.objects.filter(action="identity.erase",
                                   target_id__in=[str(i) for i in result.created_identities]).count() \
        == len(result.created_identities)
    # The gallery stays, enrolled, for the next run of the bench.
    assert Identity.objects.filter(pk__in=workload.gallery.values(), status=Identity.Status.ACTIVE).count() == 2
