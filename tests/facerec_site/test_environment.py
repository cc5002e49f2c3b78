"""One way to read configuration: the environment, then .env (FACEREC_ENV_FILE), before anything
decides to start the embedded servers; they start only when no URL is configured, and say so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import REPO_ROOT, database_url

# What a shell on a new machine has: none of the platform's variables.
PLATFORM_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "FACEREC_VAR_DIR",
                      "FACEREC_ENV_FILE", "TEST_DATABASE_NAME", "MEDIA_ROOT", "SECRET_KEY", "FACEREC_PHOTO_KEYS")
PRINT_CONFIGURATION = ("from django.conf import settings; d = settings.DATABASES['default']; "
                       "print('DB', d['NAME'], d['HOST']); print('BROKER', settings.CELERY_BROKER_URL)")


def bare_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in PLATFORM_VARIABLES}
    return {**env, **extra}


def run_python(code: str, env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout_s)


def manage(*args: str, env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.fixture
def env_file(tmp_path) -> Path:
    return tmp_path / "facerec.env"


def test_urls_only_in_the_env_file_are_used_and_nothing_embedded_starts(env_file, tmp_path, test_broker_url):
    """The operator's report: DATABASE_URL in .env was ignored and the embedded server ran instead."""
    var_dir = tmp_path / "var"
    db = database_url(settings.DATABASES["default"])
    env_file.write_text(f"DATABASE_URL={db}\nCELERY_BROKER_URL={test_broker_url}\nFACEREC_VAR_DIR={var_dir}\n")

    done = manage("shell", "-c", PRINT_CONFIGURATION, env=bare_environment(FACEREC_ENV_FILE=str(env_file)))

    assert done.returncode == 0, done.stderr
    assert f"DB {settings.DATABASES['default']['NAME']} " in done.stdout
    assert f"BROKER {test_broker_url}" in done.stdout
    assert "embedded" not in done.stderr
    assert not (var_dir / "pgdata").exists() and not (var_dir / "valkey").exists()


def test_the_environment_wins_over_the_env_file(env_file, tmp_path):
    env_file.write_text("FACEREC_VAR_DIR=/from/the/file\nFACEREC_PORT=9001\n")

    done = run_python("from facerec_site import environment as e; print(e.configured('FACEREC_VAR_DIR'), "
                      "e.configured('FACEREC_PORT'))",
                      bare_environment(FACEREC_ENV_FILE=str(env_file), FACEREC_VAR_DIR=str(tmp_path)))

    assert done.stdout.split() == [str(tmp_path), "9001"], done.stderr


def test_make_run_hands_its_processes_the_env_files_urls_and_starts_nothing(env_file, tmp_path, test_broker_url):
    db = database_url(settings.DATABASES["default"])
    env_file.write_text(f"DATABASE_URL={db}\nCELERY_BROKER_URL={test_broker_url}\nFACEREC_VAR_DIR={tmp_path}\n")

    done = run_python("from facerec_site import embedded, run; env, started = run._env_with_services("
                      "embedded.default_var_dir()); print(env['DATABASE_URL']); print(env['CELERY_BROKER_URL']); "
                      "print(started)", bare_environment(FACEREC_ENV_FILE=str(env_file)))

    assert done.stdout.splitlines() == [db, test_broker_url, "[]"], done.stderr
    assert not (tmp_path / "pgdata").exists()


def test_a_missing_env_file_that_was_named_stops_with_a_clear_line(tmp_path):
    missing = tmp_path / "nowhere.env"

    done = manage("migrate", env=bare_environment(FACEREC_ENV_FILE=str(missing)))

    assert done.returncode != 0
    assert f"FACEREC_ENV_FILE={missing} does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_with_nothing_configured_the_embedded_servers_start_and_say_so_in_one_line(env_file, tmp_path):
    var_dir = tmp_path / "v"
    env_file.write_text(f"FACEREC_VAR_DIR={var_dir}\n")
    env = bare_environment(FACEREC_ENV_FILE=str(env_file))
    try:
        done = manage("shell", "-c", PRINT_CONFIGURATION, env=env)

        assert done.returncode == 0, done.stderr
        said = [line for line in done.stderr.splitlines() if "embedded" in line]
        assert said == [f"facerec: DATABASE_URL / CELERY_BROKER_URL not configured (environment or {env_file}): "
                        f"using the embedded PostgreSQL and Valkey under {var_dir}"]
        assert (var_dir / "pgdata" / "postmaster.pid").exists()
        assert "BROKER redis+socket://" in done.stdout
    finally:
        stopped = run_python("from facerec_site import embedded; embedded.main(['stop'])", env)
        assert stopped.returncode == 0, stopped.stderr


def test_every_entry_point_gets_a_metrics_directory_under_the_var_dir_of_the_env_file(env_file, tmp_path):
    """prometheus_client's multiprocess mode needs PROMETHEUS_MULTIPROC_DIR in every process (web,
    workers, beat): load() defaults it to <FACEREC_VAR_DIR>/prometheus, read from the env file too."""
    var_dir = tmp_path / "var"
    env_file.write_text(f"FACEREC_VAR_DIR={var_dir}\n")
    env = {name: value for name, value in bare_environment(FACEREC_ENV_FILE=str(env_file)).items()
           if name != "PROMETHEUS_MULTIPROC_DIR"}

    done = run_python("import os; from facerec_site import environment as e; e.load(); "
                      "print(os.environ['PROMETHEUS_MULTIPROC_DIR'])", env)

    assert done.stdout.split() == [str(var_dir / "prometheus")], done.stderr
    assert (var_dir / "prometheus").is_dir()


def test_make_run_clears_the_metric_files_of_an_earlier_run(tmp_path, monkeypatch):
    stale = tmp_path / "counter_4242.db"
    stale.write_bytes(b"old samples")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from facerec_site import environment

    environment.clear_metrics_dir()

    assert not stale.exists()
