"""The broker down: uploads are still taken and kept pending; once it is back they are processed."""

from __future__ import annotations

import re
import time

import pytest

from tests.resilience.conftest import csrf_token, json_body, lfw_photo
from tests.resilience.test_worker_crash import enrolled_identity, upload

pytestmark = pytest.mark.resilience

# An upload may wait this long for a broker that is down (settings bound the publish retries).
MAX_UPLOAD_S = 5.0


def test_uploads_during_a_broker_outage_are_kept_and_processed_when_it_returns(healthy_stack):
    stack = healthy_stack
    stack.ensure_worker()
    identity_id = enrolled_identity(stack, "Colin Powell")
    browser = stack.signed_in_browser()
    detail_url = f"{stack.base_url}/identities/{identity_id}/"
    form_token = csrf_token(browser.get(detail_url, timeout=30).text)

    stack.stop_broker()
    try:
        started = time.monotonic()
        by_api = upload(stack, identity_id, [("Colin_Powell", 1), ("Colin_Powell", 2)])
        api_s = time.monotonic() - started
        started = time.monotonic()
        by_page = browser.post(f"{detail_url}photos/", timeout=60, allow_redirects=False,
                               data={"csrfmiddlewaretoken": form_token},
                               files=[("photos", lfw_photo("Colin_Powell", 3))])
        page_s = time.monotonic() - started
        health = stack.api().get(f"{stack.base_url}/healthz", timeout=30)
    finally:
        stack.start_broker()

    assert by_api.status_code == 202, by_api.text[:2000]
    assert api_s < MAX_UPLOAD_S
    assert by_page.status_code == 302 and by_page.headers["Location"].rstrip("/").endswith(f"/{identity_id}"), \
        by_page.text[:2000]
    assert page_s < MAX_UPLOAD_S
    assert health.status_code == 503
    checks = json_body(health)["checks"]
    assert checks["broker"]["ok"] is False and checks["database"]["ok"] is True
    # Stored, waiting for the broker: the pending rows are the outbox.
    api_ids = [photo["id"] for photo in by_api.json()["photos"]]
    ids = [pk for (pk,) in stack.sql("SELECT id FROM identities_enrollmentimage WHERE identity_id = %s ORDER BY id",
                                     identity_id)]
    assert set(api_ids) < set(ids) and len(ids) == 3
    assert set(stack.photo_states(ids).values()) == {"pending"}
    page = browser.get(detail_url, timeout=30).text
    assert re.search(r"1 photo uploaded", page), page[:3000]

    time.sleep(1.1)  # older than the sweeper's threshold (SWEEP_AFTER_S)
    requeued = stack.run_sweeper()  # what beat does every 15 s

    assert set(ids) <= set(requeued)
    stack.wait_until_processed(ids)
    record = stack.processing_record(ids)
    assert all(photo["status"] == "awaiting_review" and photo["embeddings"] == 1 for photo in record.values()), record
    assert stack.api().get(f"{stack.base_url}/healthz", timeout=30).status_code == 200
