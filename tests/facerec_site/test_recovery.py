"""The recovery sweep: what a dead worker held goes back, what a live worker holds stays.
Real broker (a consumer killed with SIGKILL), real worker, real database."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.utils import timezone

from facerec_site.tasks import recover_lost_work
from facerec_site.workers import HeldTask, WorkerStates, restore_orphaned_messages, worker_states
from enrollment.services import photos as services
from identities.models import EnrollmentImage
from tests.conftest import REPO_ROOT
from tests.enrollment.test_workflow import enrolled_person, photo, wait_until_processed

QUEUE = "test-recovery"
# Takes one message without acknowledging it, prints its task id, and dies as a killed worker does.
_DYING_CONSUMER = textwrap.dedent("""
    import os, signal, sys
    from kombu import Connection, Exchange, Queue
    with Connection(sys.argv[1]) as conn:
        queue = conn.SimpleQueue(Queue(sys.argv[2], Exchange(sys.argv[2]), sys.argv[2]))
        message = queue.get(timeout=30)
        print(message.headers["id"], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.fixture
def message_held_by_a_dead_consumer(celery_app_for_tests, test_broker_url) -> str:
    """The id of a task whose message a killed consumer took and never acknowledged."""
    with celery_app_for_tests.connection_for_write() as conn:
        conn.default_channel.client.delete(QUEUE)
    celery_app_for_tests.send_task("facerec_site.ping", queue=QUEUE)
    done = subprocess.run([sys.executable, "-c", _DYING_CONSUMER, test_broker_url, QUEUE], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    yield done.stdout.strip()
    with celery_app_for_tests.connection_for_write() as conn:
        conn.default_channel.client.delete(QUEUE)


def queued(app) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(QUEUE)


def test_a_message_a_dead_consumer_took_goes_back_to_its_queue(celery_app_for_tests,
                                                                message_held_by_a_dead_consumer):
    app = celery_app_for_tests
    assert queued(app) == 0  # taken, unacknowledged: the broker alone would wait an hour
    alive = worker_states(app)  # whatever live workers hold right now stays with them

    assert restore_orphaned_messages(app, alive, older_than_s=0) == ["facerec_site.ping"]

    assert queued(app) == 1
    assert restore_orphaned_messages(app, alive, older_than_s=0) == []  # once


def test_a_message_a_live_worker_holds_or_just_took_stays_with_it(celery_app_for_tests,
                                                                   message_held_by_a_dead_consumer):
    app = celery_app_for_tests
    held = WorkerStates(queues={"w@h": ["default"]},
                        held=[HeldTask(message_held_by_a_dead_consumer, "facerec_site.ping", ())])
    others = worker_states(app)
    held.held += others.held

    assert restore_orphaned_messages(app, held, older_than_s=0) == []
    assert restore_orphaned_messages(app, others, older_than_s=3600) == []  # delivered a moment ago
    assert queued(app) == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_sweep_hands_on_a_photo_whose_worker_is_gone_at_once(celery_worker, settings):
    """Claimed a minute ago by a worker that no longer answers: not the 15 minutes a hung worker gets."""
    bush = enrolled_person("George W Bush")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(services, "_queue_processing", lambda ids: None)  # its message died with the worker
        [image] = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", 1)])
    EnrollmentImage.objects.filter(pk=image.pk).update(
        status="processing", attempts=1, processing_started_at=timezone.now() - timedelta(minutes=1))
    assert settings.FACEREC_REQUEUE_PROCESSING_AFTER_S == 900

    swept = recover_lost_work.delay().get(timeout=60)

    assert swept["photos"] == [image.pk]
    assert any(name.startswith("test-") for name in swept["workers"])
    done = wait_until_processed([image.pk])[image.pk]
    assert done.status == "awaiting_review" and done.attempts == 2


@pytest.mark.django_db
def test_the_sweep_leaves_a_photo_a_live_worker_is_processing():
    bush = enrolled_person("George W Bush")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(services, "_queue_processing", lambda ids: None)
        [image] = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", 1)])
    EnrollmentImage.objects.filter(pk=image.pk).update(
        status="processing", attempts=1, processing_started_at=timezone.now() - timedelta(minutes=1))

    requeued = services.requeue_stale_photos(pending_after_s=300, processing_after_s=900,
                                             held_photo_ids={image.pk}, orphaned_after_s=5)

    assert requeued == []
    assert EnrollmentImage.objects.get(pk=image.pk).status == "processing"
    # Claimed a moment ago and not yet seen by the sweep's broadcast: left alone too.
    EnrollmentImage.objects.filter(pk=image.pk).update(processing_started_at=timezone.now())
    assert services.requeue_stale_photos(pending_after_s=300, processing_after_s=900, held_photo_ids=set(),
                                         orphaned_after_s=5) == []
    assert EnrollmentImage.objects.get(pk=image.pk).status == "processing"
