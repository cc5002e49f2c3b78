"""docker-compose.yml describes a real deployment (Docker does not run here)."""

import yaml

from tests.conftest import REPO_ROOT


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_with_real_images():
    services = _compose()["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith(("redis:", "valkey/valkey:"))
    assert "gunicorn" in " ".join(services["web"]["command"])


def test_app_services_point_at_the_compose_database_and_broker():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert "@db:5432/" in environment["DATABASE_URL"], name
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379"), name
        assert {"db", "redis"} <= set(services[name]["depends_on"]), name


def test_worker_reserves_an_nvidia_gpu_and_serves_both_queues():
    worker = _compose()["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "default,gpu" in " ".join(worker["command"])


def test_media_and_database_live_on_named_volumes():
    compose = _compose()
    assert {"pgdata", "media", "models"} <= set(compose["volumes"])
    assert any(v.startswith("pgdata:") for v in compose["services"]["db"]["volumes"])
    for name in ("web", "worker"):
        assert any(v.startswith("media:") for v in compose["services"][name]["volumes"]), name
