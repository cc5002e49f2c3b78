"""A worker killed in the middle of its work: everything it held is processed again within a minute
by the recovery sweep beat runs (its real 15 s schedule), and nothing is processed twice."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.resilience.conftest import lfw_photo

pytestmark = pytest.mark.resilience

BATCH = [("George_W_Bush", n) for n in range(1, 7)]
# The promise: what a dead worker held is taken up again within this.
RECOVERY_LIMIT_S = 60.0


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


def seconds_until_processed(stack, ids: list[int], since: float) -> float:
    stack.wait_until_processed(ids, timeout_s=RECOVERY_LIMIT_S + 60)
    return time.monotonic() - since


def assert_processed_exactly_once(stack, ids: list[int], retaken: list[int]) -> None:
    # Queue copies (a restored message, the sweep's re-send) find the photo claimed or done: let
    # them reach the worker before counting.
    time.sleep(2)
    record = stack.processing_record(ids)
    for pk, photo in record.items():
        assert photo["status"] == "awaiting_review", (pk, photo)
        assert photo["embeddings"] == 1, (pk, photo)
        assert photo["processed"] == 1, (pk, photo)  # one `photo.process` audit entry: processed once
    for pk in retaken:
        assert record[pk]["attempts"] == 2, record[pk]  # claimed by the lost process, then once more


def test_photos_a_killed_worker_held_are_processed_within_a_minute_exactly_once(healthy_stack, beat):
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
    doomed.kill()  # SIGKILL, the whole worker: its unacknowledged message and its claim are left behind
    killed_at = time.monotonic()
    left_processing = [pk for pk, status in stack.photo_states(ids).items() if status == "processing"]
    assert left_processing, f"nothing was left in processing by the kill: {at_kill}"

    stack.start_worker()  # another machine's worker (its start-up, ~10 s, counts in the time below)
    recovered_s = seconds_until_processed(stack, ids, since=killed_at)

    print(f"\nphotos held by a killed worker: all processed {recovered_s:.1f} s after the kill")
    assert recovered_s < RECOVERY_LIMIT_S
    assert_processed_exactly_once(stack, ids, retaken=left_processing)


def test_a_photo_whose_pool_process_was_killed_is_processed_within_a_minute_exactly_once(healthy_stack, beat):
    """The OOM killer's pick: the pool process holding the models, not the worker. Its task comes
    back at once (reject_on_worker_lost) and finds the photo claimed; the sweep sees that no live
    worker holds the photo and hands it on."""
    stack = healthy_stack
    worker = stack.ensure_worker()
    identity_id = enrolled_identity(stack, "Donald Rumsfeld")
    answer = upload(stack, identity_id, [("Donald_Rumsfeld", n) for n in range(1, 4)])
    assert answer.status_code == 202, answer.text
    ids = [photo["id"] for photo in answer.json()["photos"]]

    wait_for_mid_batch(stack, ids)
    [pool_process] = worker.children()
    os.kill(pool_process, signal.SIGKILL)
    killed_at = time.monotonic()
    left_processing = [pk for pk, status in stack.photo_states(ids).items() if status == "processing"]
    assert left_processing

    recovered_s = seconds_until_processed(stack, ids, since=killed_at)

    print(f"\nphoto held by a killed pool process: processed {recovered_s:.1f} s after the kill")
    assert recovered_s < RECOVERY_LIMIT_S
    assert worker.alive(), worker.log_tail()
    assert "WorkerLostError" in worker.log.read_text(errors="replace")
    assert_processed_exactly_once(stack, ids, retaken=left_processing)


def test_a_report_a_killed_worker_was_running_starts_again_within_a_minute_and_finishes_once(healthy_stack,
                                                                                              beat):
    stack = healthy_stack
    if stack.worker is not None:
        stack.worker.stop()
    doomed = stack.start_worker()
    created = stack.api().post(f"{stack.base_url}/api/v1/reports/", timeout=30, json={
        "kind": "benchmark", "parameters": {"folder": "att_faces"}})
    assert created.status_code == 202, created.text
    report_id = created.json()["id"]

    deadline = time.monotonic() + 120
    while stack.sql("SELECT status, progress FROM evaluation_evaluationreport WHERE id = %s", report_id)[0] \
            [1] <= 0.05 and time.monotonic() < deadline:
        time.sleep(0.1)  # running, some of the folder embedded
    [(status, first_start)] = stack.sql("SELECT status, started_at FROM evaluation_evaluationreport WHERE id = %s",
                                        report_id)
    assert status == "running", status
    doomed.kill()
    killed_at = time.monotonic()
    stack.start_worker()

    restarted_s = None
    deadline = killed_at + RECOVERY_LIMIT_S + 120
    while time.monotonic() < deadline:
        [(status, started_at)] = stack.sql(
            "SELECT status, started_at FROM evaluation_evaluationreport WHERE id = %s", report_id)
        if restarted_s is None and status == "running" and started_at > first_start:
            restarted_s = time.monotonic() - killed_at
        if status in ("done", "failed"):
            break
        time.sleep(0.2)

    print(f"\nreport a killed worker was running: started again {restarted_s} s after the kill")
    assert status == "done", stack.logs()
    assert restarted_s is not None and restarted_s < RECOVERY_LIMIT_S
    finished = stack.sql("SELECT count(*) FROM identities_auditlog WHERE action = 'evaluation.report_finished' "
                         "AND target_id = %s", str(report_id))
    assert finished == [(1,)]
