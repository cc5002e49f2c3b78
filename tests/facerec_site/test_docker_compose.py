"""The compose files describe a working deployment: checked with `docker-compose config`, no engine.

Docker does not run here. Debian's docker-compose (v1, `make test` installs it) validates
and resolves the files (anchors, the TLS override merged, ${...} filled) without one; the
assertions read what it resolved. It runs in an empty project directory with only the
variables given, so no developer's .env or shell variable takes part.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

BASE = REPO_ROOT / "docker-compose.yml"
TLS = REPO_ROOT / "docker-compose.tls.yml"
CADDYFILE = REPO_ROOT / "deploy" / "Caddyfile"
APP_SERVICES = ("web", "worker", "beat", "watcher")
# What a public host must set (docker-compose.tls.yml); the values only have to be there.
PUBLIC_SITE = {"SITE_HOST": "faces.example.org", "SECRET_KEY": "k" * 60, "FACEREC_PHOTO_KEYS": "a-fernet-key",
               "POSTGRES_PASSWORD": "a-database-password"}
WEIGHTS_STEP = ("python -m recognition.pipeline.prepare_weights --models-dir /data/models "
                "--liveness-source /data/antispoof-source")
# Where each piece of state lives: the named volume, its mount point and the setting naming it.
STATE_VOLUMES = {"state": ("/data/var", "FACEREC_VAR_DIR"), "media": ("/data/media", "MEDIA_ROOT"),
                 "models": ("/data/models", "FACEREC_MODELS_DIR")}


def docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail("docker-compose is missing: run `make debian-packages` (apt-get install docker-compose); "
                    "it validates the compose files without a Docker engine", pytrace=False)
    return path


def run_config(files: tuple[Path, ...], variables: dict[str, str], project_dir: Path,
               *extra: str) -> subprocess.CompletedProcess:
    command = [docker_compose()]
    for file in files:
        command += ["-f", str(file)]
    command += ["--project-directory", str(project_dir), "config", *extra]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(project_dir), **variables}
    return subprocess.run(command, cwd=project_dir, env=env, capture_output=True, text=True, timeout=60)


@cache
def _resolved(files: tuple[Path, ...], variables: tuple[tuple[str, str], ...], project_dir: Path) -> dict:
    result = run_config(files, dict(variables), project_dir)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("compose-project")


@pytest.fixture(scope="module")
def local(project_dir) -> dict:
    """docker-compose.yml alone, with no variable set (no .env)."""
    return _resolved((BASE,), (), project_dir)


@pytest.fixture(scope="module")
def public(project_dir) -> dict:
    """docker-compose.yml with the TLS override and the variables a public host sets."""
    return _resolved((BASE, TLS), tuple(sorted(PUBLIC_SITE.items())), project_dir)


def _volumes(service: dict) -> dict[str, tuple[str, str]]:
    """Mount point -> (source, mode), from the short syntax `config` writes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def _published(service: dict) -> set[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port, in either syntax `config` writes."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            *host, published, target = port.split("/")[0].split(":")
            ports.add((host[0] if host else "", int(published), int(target)))
    return ports


def test_both_files_are_valid_compose_files(project_dir):
    for files, variables in (((BASE,), {}), ((BASE, TLS), PUBLIC_SITE)):
        result = run_config(files, variables, project_dir, "-q")
        assert result.returncode == 0, f"{[f.name for f in files]}: {result.stderr}"


def test_compose_has_the_production_services_with_real_images(local, public):
    services = local["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith(("redis:", "valkey/valkey:"))
    assert public["services"]["caddy"]["image"] == "caddy:2"


def test_app_services_point_at_the_compose_database_and_broker(local):
    services = local["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert "@db:5432/" in environment["DATABASE_URL"], name
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379"), name
        assert {"db", "redis"} <= set(services[name]["depends_on"]), name


def test_services_start_once_what_they_need_is_healthy(local, public):
    services = local["services"]
    for name in ("db", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    for name in APP_SERVICES:
        for dependency in ("db", "redis"):
            assert services[name]["depends_on"][dependency] == {"condition": "service_healthy"}, name
    # Workers refuse an unmigrated database and beat needs its tables: both wait for web's migrate.
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"] == {"condition": "service_healthy"}, name
    assert public["services"]["caddy"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_web_prepares_weights_migrates_creates_the_admin_then_serves(local):
    command = " ".join(local["services"]["web"]["command"])
    steps = [WEIGHTS_STEP, "manage.py migrate", "manage.py ensure_admin", "gunicorn facerec_site.wsgi"]
    positions = [command.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), command


def test_worker_reserves_an_nvidia_gpu_and_serves_both_queues(local):
    worker = local["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    command = " ".join(worker["command"])
    # The worker command names the worker uniquely and checks its settings before taking work.
    assert command.startswith(f"sh -c {WEIGHTS_STEP} && ")
    assert command.endswith("python manage.py worker --queues default,gpu --concurrency 2")


def test_the_watcher_watches_the_cameras(local):
    assert local["services"]["watcher"]["command"] == ["python", "manage.py", "watch_cameras"]


def test_beat_runs_celery_beat(local):
    assert local["services"]["beat"]["command"][:4] == ["celery", "-A", "facerec_site", "beat"]


def test_media_and_database_live_on_named_volumes(local):
    assert {"pgdata", "redisdata", "media", "models", "state"} <= set(local["volumes"])
    assert _volumes(local["services"]["db"])["/var/lib/postgresql/data"][0] == "pgdata"
    assert _volumes(local["services"]["redis"])["/data"][0] == "redisdata"


def test_all_app_state_lives_on_named_volumes_shared_by_the_app_services(local):
    """Keys, initial_admin_password and the audit checkpoint (FACEREC_VAR_DIR), media, models:
    each on its named volume, the same for web, worker and beat (they must share the keys)."""
    for name in APP_SERVICES:
        service = local["services"][name]
        mounts = _volumes(service)
        for volume, (target, setting) in STATE_VOLUMES.items():
            assert mounts[target] == (volume, "rw"), (name, target)
            assert service["environment"][setting] == target, (name, setting)
        # Nothing of the host is written: its only folder is mounted read-only.
        binds = {target: source for target, (source, mode) in mounts.items() if source.startswith("/")}
        assert set(binds) == {"/data/antispoof-source"} and mounts["/data/antispoof-source"][1] == "ro", name


def test_liveness_weights_mount_from_the_checkout_unless_named(project_dir, local):
    """`make weights` installs them into var/models/antispoof; FACEREC_LIVENESS_WEIGHTS names another folder."""
    for name in ("web", "worker"):
        source, mode = _volumes(local["services"][name])["/data/antispoof-source"]
        assert (source, mode) == (str(project_dir / "var" / "models" / "antispoof"), "ro"), name
        assert WEIGHTS_STEP in " ".join(local["services"][name]["command"]), name
    elsewhere = _resolved((BASE,), (("FACEREC_LIVENESS_WEIGHTS", "/srv/antispoof"),), project_dir)
    assert _volumes(elsewhere["services"]["worker"])["/data/antispoof-source"] == ("/srv/antispoof", "ro")


def test_the_default_file_serves_plain_http_on_localhost_only(local):
    services = local["services"]
    assert _published(services["web"]) == {("127.0.0.1", 8000, 8000)}
    # The `monitoring` profile's Prometheus and Grafana publish their pages on loopback only.
    assert not [name for name, service in services.items()
                if name not in ("web", *MONITORING) and service.get("ports")]
    assert {name: _published(services[name]) for name in MONITORING} == {
        "prometheus": {("127.0.0.1", 9090, 9090)}, "grafana": {("127.0.0.1", 3000, 3000)}}
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        # Plain HTTP: a Secure session cookie may not come back (browsers differ), and no login would stick.
        assert environment["SECURE_COOKIES"] == "0", name
        assert "BEHIND_TLS_PROXY" not in environment, name
        assert environment["DEBUG"] == "0", name
        assert set(environment["ALLOWED_HOSTS"].split(",")) <= {"localhost", "127.0.0.1", "[::1]"}, name
        # A local-only site generates its keys into the state volume: none is configured here.
        assert "SECRET_KEY" not in environment and "FACEREC_PHOTO_KEYS" not in environment, name


MONITORING = ("prometheus", "grafana")


def test_prometheus_and_grafana_are_optional_and_scrape_the_site_with_the_token(local):
    services = local["services"]
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"], name
    prometheus = services["prometheus"]
    assert "FACEREC_METRICS_TOKEN" in prometheus["environment"]
    assert "/tmp/metrics_token" in " ".join(prometheus["entrypoint"])
    config = yaml.safe_load((REPO_ROOT / "docs" / "monitoring" / "prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["web:8000"]
    assert job["authorization"]["credentials_file"] == "/tmp/metrics_token"
    mounted = {volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
               for volume in services["grafana"]["volumes"]}
    assert any(str(source).endswith("grafana-dashboard.json") for source in mounted)
    dashboard = json.loads((REPO_ROOT / "docs" / "monitoring" / "grafana-dashboard.json").read_text())
    assert all("facerec_" in target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    for name in APP_SERVICES:
        # Per container: process ids repeat across containers.
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/prometheus", name


def test_the_tls_override_puts_caddy_in_front_and_secures_the_site(project_dir, public):
    services = public["services"]
    caddy = services["caddy"]
    assert {(port[1], port[2]) for port in _published(caddy)} >= {(80, 80), (443, 443)}
    assert caddy["environment"]["SITE_HOST"] == PUBLIC_SITE["SITE_HOST"]
    mounts = _volumes(caddy)
    assert mounts["/etc/caddy/Caddyfile"] == (str(project_dir / CADDYFILE.relative_to(REPO_ROOT)), "ro")
    assert mounts["/data"][0] == "caddy_data" and {"caddy_data", "caddy_config"} <= set(public["volumes"])
    assert re.search(r"^\{\$SITE_HOST\}\s*\{\s*reverse_proxy web:8000\s*\}", CADDYFILE.read_text(), re.MULTILINE)
    host = PUBLIC_SITE["SITE_HOST"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["SECURE_COOKIES"] == "1" and environment["BEHIND_TLS_PROXY"] == "1", name
        assert environment["FACEREC_NUM_PROXIES"] == "1", name
        assert environment["ALLOWED_HOSTS"] == host and environment["CSRF_TRUSTED_ORIGINS"] == f"https://{host}"
        assert environment["SECRET_KEY"] == PUBLIC_SITE["SECRET_KEY"], name
        assert environment["FACEREC_PHOTO_KEYS"] == PUBLIC_SITE["FACEREC_PHOTO_KEYS"], name
        assert f":{PUBLIC_SITE['POSTGRES_PASSWORD']}@db:5432/" in environment["DATABASE_URL"], name
        # What the base file sets and the override does not touch stays (environment merges by key).
        assert environment["FACEREC_VAR_DIR"] == "/data/var", name
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == PUBLIC_SITE["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("missing", sorted(PUBLIC_SITE))
def test_the_tls_override_refuses_a_public_site_without_its_keys(project_dir, missing):
    variables = {name: value for name, value in PUBLIC_SITE.items() if name != missing}

    result = run_config((BASE, TLS), variables, project_dir, "-q")

    assert result.returncode != 0 and missing in result.stderr, result.stderr


def _referenced_variables() -> set[str]:
    names = set()
    for path in (BASE, TLS):
        names |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))
    names |= set(re.findall(r"\{\$([A-Za-z_][A-Za-z0-9_]*)", CADDYFILE.read_text()))
    return names


def test_every_variable_the_compose_files_read_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    undocumented = sorted(name for name in _referenced_variables()
                          if not re.search(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", readme))
    assert not undocumented, f"README.md does not mention {undocumented}, which the compose files read"
