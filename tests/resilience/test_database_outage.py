"""The database down: clear 503s (never a 500 or a traceback), and recovery without a restart."""

from __future__ import annotations

import pytest
import requests

from tests.resilience.conftest import csrf_token, json_body
from tests.resilience.test_worker_crash import enrolled_identity, upload

pytestmark = pytest.mark.resilience


def test_a_database_outage_answers_503_and_the_site_recovers_by_itself(healthy_stack):
    stack = healthy_stack
    stack.ensure_worker()
    identity_id = enrolled_identity(stack, "Tony Blair")
    api, browser = stack.api(), stack.signed_in_browser()
    # Every web thread and the worker hold a connection that the outage will break.
    assert api.get(f"{stack.base_url}/api/v1/identities/", timeout=30).status_code == 200
    assert browser.get(f"{stack.base_url}/identities/", timeout=30).status_code == 200
    visitor = requests.Session()
    login_token = csrf_token(visitor.get(f"{stack.base_url}/login/", timeout=30).text)

    stack.stop_database()
    try:
        listing = api.get(f"{stack.base_url}/api/v1/identities/", timeout=30)
        uploaded = upload(stack, identity_id, [("Tony_Blair", 1)])
        page = browser.get(f"{stack.base_url}/identities/{identity_id}/", timeout=30)
        signing_in = visitor.post(f"{stack.base_url}/login/", timeout=30, allow_redirects=False, data={
            "username": stack.username, "password": stack.password, "csrfmiddlewaretoken": login_token})
        health = api.get(f"{stack.base_url}/healthz", timeout=30)
    finally:
        stack.start_database()

    for answer in (listing, uploaded):
        assert answer.status_code == 503, answer.text[:2000]
        assert json_body(answer)["error"]["code"] == "database_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
    for answer in (page, signing_in):
        assert answer.status_code == 503, answer.text[:2000]
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "Temporarily unavailable" in answer.text and "Traceback" not in answer.text
        assert int(answer.headers["Retry-After"]) > 0
        assert answer.headers["X-Request-ID"] in answer.text  # to quote when reporting it
    assert health.status_code == 503
    assert json_body(health)["checks"]["database"]["ok"] is False

    # Back without restarting anything: the first requests after the outage succeed.
    assert api.get(f"{stack.base_url}/api/v1/identities/", timeout=30).status_code == 200
    assert browser.get(f"{stack.base_url}/identities/{identity_id}/", timeout=30).status_code == 200
    again = upload(stack, identity_id, [("Tony_Blair", 2)])
    assert again.status_code == 202, again.text[:2000]
    [photo] = again.json()["photos"]
    assert stack.wait_until_processed([photo["id"]]) == {photo["id"]: "awaiting_review"}
    assert api.get(f"{stack.base_url}/healthz", timeout=30).status_code == 200
