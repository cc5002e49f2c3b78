"""A worker whose settings differ from the site's refuses to start, saying what to copy; one that
matches starts. Real `manage.py worker` processes on the test database and broker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from facerec_site import worker_setup
from facerec_site.management.commands.worker import default_node_name
from facerec_site.models import SharedSetting
from tests.conftest import REPO_ROOT, database_url

# The subprocess must see the recorded reference: committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site_reference():
    """What `migrate` records on the site's machine (the test database may have been flushed since)."""
    worker_setup.record(role="migrate")
    return dict(SharedSetting.objects.values_list("name", "fingerprint"))


@pytest.fixture
def worker_env(test_broker_url, isolated_media):
    from django.conf import settings

    return {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "CELERY_BROKER_URL": test_broker_url, "CELERY_RESULT_BACKEND": test_broker_url,
            "MEDIA_ROOT": str(isolated_media), "PYTHONUNBUFFERED": "1"}


def start_worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """A worker that refuses exits at once; one that would start is stopped by the time-out."""
    return subprocess.run([sys.executable, "manage.py", "worker", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_worker_with_other_photo_keys_refuses_to_start_and_says_which_setting(site_reference, worker_env):
    done = start_worker({**worker_env, "FACEREC_PHOTO_KEYS": Fernet.generate_key().decode()}, "--queues", "gpu")

    assert done.returncode == 1
    assert "refuses to start" in done.stderr
    assert "FACEREC_PHOTO_KEYS differ from the site's" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_set_up_on_another_machine_from_the_old_readme_refuses_to_start(site_reference, worker_env,
                                                                                  tmp_path):
    """Only the database, broker and storage given: it makes its own secret and photo key (a
    local-only site does), so it could never read a photo."""
    done = start_worker({**worker_env, "FACEREC_VAR_DIR": str(tmp_path)}, "--queues", "gpu")

    assert done.returncode == 1
    assert "SECRET_KEY differs from the site's" in done.stderr
    assert "FACEREC_PHOTO_KEYS differ from the site's" in done.stderr


def test_a_gpu_worker_without_the_model_weights_refuses_to_start(site_reference, worker_env, tmp_path):
    done = start_worker({**worker_env, "FACEREC_MODELS_DIR": str(tmp_path / "empty")}, "--queues", "gpu")

    assert done.returncode == 1
    assert f"model weights are not ready in FACEREC_MODELS_DIR={tmp_path / 'empty'}" in done.stderr
    assert "make weights" in done.stderr


def test_the_site_own_settings_pass_and_the_weights_matter_only_for_the_gpu_queue(site_reference, tmp_path):
    assert worker_setup.problems(None) == []
    with override_settings(FACEREC_MODELS_DIR=tmp_path):
        assert worker_setup.problems({"default"}) == []
        assert any("model weights" in problem for problem in worker_setup.problems({"gpu"}))


def test_a_worker_with_the_site_keys_given_in_a_rotated_order_still_reads_the_photos(site_reference, settings):
    """After a rotation the site lists a new key first: the old token still decrypts (MultiFernet)."""
    settings.FACEREC_PHOTO_KEYS = [Fernet.generate_key().decode(), *settings.FACEREC_PHOTO_KEYS]
    assert worker_setup.problems(None) == []


def test_the_fingerprints_reveal_no_secret(site_reference, settings):
    stored = " ".join(site_reference.values())
    assert settings.SECRET_KEY not in stored
    assert not any(key in stored for key in settings.FACEREC_PHOTO_KEYS)


def test_a_database_never_recorded_takes_the_first_workers_settings(worker_env):
    SharedSetting.objects.all().delete()

    assert worker_setup.problems(None) == []

    assert set(SharedSetting.objects.values_list("name", flat=True)) == {"secret_key", "photo_keys", "models"}
    assert SharedSetting.objects.get(name="secret_key").recorded_by.startswith("first worker on ")


def test_worker_names_are_unique_per_process_and_say_what_they_serve():
    name = default_node_name(["default", "gpu"])
    assert name.startswith(f"default+gpu-{os.getpid()}@")


def test_unknown_queues_are_refused_with_the_choices(worker_env):
    done = start_worker(worker_env, "--queues", "default,cpu")

    assert done.returncode == 1
    assert "--queues takes default, gpu" in done.stderr and "Traceback" not in done.stderr
