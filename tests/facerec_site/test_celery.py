import os

import pytest

from facerec_site.tasks import ping


@pytest.mark.worker
def test_task_round_trips_through_real_broker_and_worker(celery_worker):
    result = ping.delay("hello").get(timeout=60)

    assert result["payload"] == "hello"
    # Executed by the separate worker process, not in the test process.
    assert result["worker_pid"] != os.getpid()


@pytest.mark.worker
def test_task_status_is_kept_for_job_status_pages(celery_worker, celery_app_for_tests):
    async_result = ping.delay("status")
    async_result.get(timeout=60)

    stored = celery_app_for_tests.AsyncResult(async_result.id)
    assert stored.status == "SUCCESS"
    assert stored.name == "facerec_site.ping"


def test_embedding_work_is_routed_to_the_gpu_queue(celery_app_for_tests):
    router = celery_app_for_tests.amqp.router
    route = router.route({}, "recognition.tasks.embed_photo")
    assert route["queue"].name == "gpu"
    assert router.route({}, "facerec_site.ping")["queue"].name == "default"


def test_celery_is_configured_for_at_least_once_delivery(celery_app_for_tests):
    conf = celery_app_for_tests.conf
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_always_eager is False
    assert conf.broker_url.startswith(("redis", "rediss", "valkey"))
