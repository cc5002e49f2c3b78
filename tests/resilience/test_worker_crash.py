"""A worker killed in the middle of a batch: every photo is still processed, and only once."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.resilience.conftest import lfw_photo

pytestmark = pytest.mark.resilience

BATCH = [("George_W_Bush", n) for n in range(1, 7)]


def enrolled_identity(stack, name: str) -> int:
    api = stack.api()
    created = api.post(f"{stack.base_url}/api/v1/identities/", json={"display_name": name}, timeout=30)
    assert created.status_code == 201, created.text
    identity_id = created.json()["id"]
    consent = api.post(f"{stack.base_url}/api/v1/identities/{identity_id}/consents/", timeout=30, json={
        "given_by_name": name, "purpose": "resilience test", "wording_version": "v1"})
    assert consent.status_code == 201, consent.text
    return identity_id


def upload(stack, identity_id: int, photos: list[tuple[str, int]]):
    files = [("photos", lfw_photo(person, n)) for person, n in photos]
    return stack.api().post(f"{stack.base_url}/api/v1/identities/{identity_id}/photos/", files=files, timeout=60)


def wait_for_mid_batch(stack, ids: list[int], timeout_s: float = 120) -> dict[int, str]:
    """Until one photo is done and another is being processed; returns those states."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = stack.photo_states(ids)
        values = list(states.values())
        if "processing" in values and any(v not in ("pending", "processing") for v in values):
            return states
        if all(v not in ("pending", "processing") for v in values):
            raise AssertionError(f"the batch finished before the worker could be killed: {states}")
        time.sleep(0.02)
    raise AssertionError(f"the worker never got mid-batch: {stack.photo_states(ids)}\n{stack.worker.log_tail()}")


def assert_processed_exactly_once(stack, ids: list[int], retaken: list[int]) -> None:
    # Queue copies (acks_late redelivery, the sweeper's re-sends) find the photo claimed: let
    # them reach the worker before counting.
    time.sleep(2)
    record = stack.processing_record(ids)
    for pk, photo in record.items():
        assert photo["status"] == "awaiting_review", (pk, photo)
        assert photo["embeddings"] == 1, (pk, photo)
        assert photo["processed"] == 1, (pk, photo)  # one `photo.process` audit entry: processed once
    for pk in retaken:
        assert record[pk]["attempts"] == 2, record[pk]  # claimed by the lost process, then once more


def test_photos_a_killed_worker_was_processing_are_processed_exactly_once(healthy_stack):
    stack = healthy_stack
    identity_id = enrolled_identity(stack, "George W Bush")
    if stack.worker is not None:
        stack.worker.stop()  # the upload is queued with no worker to take it yet
    answer = upload(stack, identity_id, BATCH)
    assert answer.status_code == 202, answer.text
    ids = [photo["id"] for photo in answer.json()["photos"]]
    assert set(stack.photo_states(ids).values()) == {"pending"}

    doomed = stack.start_worker()
    at_kill = wait_for_mid_batch(stack, ids)
    doomed.kill()
    left_processing = [pk for pk, status in stack.photo_states(ids).items() if status == "processing"]
    assert left_processing, f"nothing was left in processing by the kill: {at_kill}"

    stack.start_worker()
    requeued = stack.run_sweeper()

    assert set(left_processing) <= set(requeued)
    stack.wait_until_processed(ids)
    assert_processed_exactly_once(stack, ids, retaken=left_processing)


def test_a_photo_whose_pool_process_was_killed_is_redelivered_and_processed_once(healthy_stack):
    """The OOM killer's pick: the pool process holding the models, not the worker. acks_late +
    reject_on_worker_lost put its task back at once; the redelivery finds the photo claimed and
    leaves it to the sweeper, which hands it on exactly once."""
    stack = healthy_stack
    worker = stack.ensure_worker()
    identity_id = enrolled_identity(stack, "Donald Rumsfeld")
    answer = upload(stack, identity_id, [("Donald_Rumsfeld", n) for n in range(1, 4)])
    assert answer.status_code == 202, answer.text
    ids = [photo["id"] for photo in answer.json()["photos"]]

    wait_for_mid_batch(stack, ids)
    [pool_process] = worker.children()
    os.kill(pool_process, signal.SIGKILL)
    left_processing = [pk for pk, status in stack.photo_states(ids).items() if status == "processing"]
    assert left_processing

    requeued: list[int] = []
    deadline = time.monotonic() + 60
    while not set(left_processing) <= set(requeued) and time.monotonic() < deadline:
        requeued += stack.run_sweeper()  # the redelivered task may still hold the worker: sweep again
    stack.wait_until_processed(ids)

    assert worker.alive(), worker.log_tail()
    assert "WorkerLostError" in worker.log.read_text(errors="replace")
    assert_processed_exactly_once(stack, ids, retaken=left_processing)
