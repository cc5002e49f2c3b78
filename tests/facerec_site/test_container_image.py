"""The image holds no secret or state: its build context and its build step, checked without Docker.

No Docker engine runs here, so the build context is computed with docker-py's implementation
of .dockerignore (the list `docker build` would send), and the Dockerfile's collectstatic step
is run as written in a fake root laid out like the image.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from docker.utils.build import exclude_paths

from tests.conftest import REPO_ROOT

# Planted in a copy of the repository's .dockerignore: none may be in the build context.
SECRET_OR_STATE_FILES = [
    ".env",
    ".env.production",
    "facerec_site/.env",
    "var/secret_key",
    "var/photo_keys",
    "var/initial_admin_password",
    "var/audit_checkpoint.json",
    "var/pgdata/PG_VERSION",
    "var/models/facenet-casia-webface.pt",
    "media/private/x",
    "server.pem",
    "deploy/tls/site.key",
    "deploy/tls/site.crt",
    ".venv/bin/python",
    ".git/config",
    "facerec_site/__pycache__/settings.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
    ".hypothesis/examples/x",
    # Wherever a FACEREC_VAR_DIR pointed: the site's generated files by their names.
    "elsewhere/secret_key",
    "elsewhere/photo_keys",
    "elsewhere/initial_admin_password",
    "elsewhere/audit_checkpoint.json",
]
CODE_FILES = ["manage.py", "requirements.txt", "requirements-nodeps.txt", "Dockerfile",
              "deploy/collectstatic.sh", "facerec_site/settings.py", "templates/base.html"]


def build_context(root: Path) -> set[str]:
    """Paths (files and folders, relative) that `docker build root` sends, by root's .dockerignore.

    Read as docker-py's build() reads it: stripped lines, blanks and # comments left out."""
    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return set(exclude_paths(str(root), patterns, dockerfile="Dockerfile"))


def _is_secret_or_state(path: str) -> bool:
    parts = Path(path).parts
    name = parts[-1]
    return (parts[0] in {"var", "media", ".venv", ".git"}
            or name == ".env" or name.startswith(".env.")
            or name.endswith((".pem", ".key", ".crt", ".pyc"))
            or name in {"secret_key", "photo_keys", "initial_admin_password", "audit_checkpoint.json",
                        "__pycache__", ".pytest_cache", ".hypothesis"})


def test_planted_secrets_and_state_stay_out_of_the_build_context(tmp_path):
    shutil.copy(REPO_ROOT / ".dockerignore", tmp_path / ".dockerignore")
    for relative in SECRET_OR_STATE_FILES + CODE_FILES:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x\n")

    context = build_context(tmp_path)

    assert not context & set(SECRET_OR_STATE_FILES), sorted(context & set(SECRET_OR_STATE_FILES))
    assert set(CODE_FILES) <= context, sorted(set(CODE_FILES) - context)


def test_the_repository_build_context_holds_code_and_no_secret_or_state():
    context = build_context(REPO_ROOT)

    assert not [path for path in context if _is_secret_or_state(path)]
    assert set(CODE_FILES) <= context
    assert {"facerec_site", "recognition", "identities", "templates"} <= context


# --- The Dockerfile's build step ------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (REPO_ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env


def _collectstatic_step() -> str:
    steps = [arguments for keyword, arguments in dockerfile_instructions()
             if keyword == "RUN" and "collectstatic" in arguments]
    assert len(steps) == 1, steps
    return steps[0]


def test_the_dockerfile_bakes_no_secret_and_runs_unprivileged():
    instructions = dockerfile_instructions()
    env = dockerfile_env()
    # No key, password or broker/database URL (which would carry one) set into the image.
    secret_names = ("SECRET_KEY", "FACEREC_PHOTO_KEYS", "PASSWORD", "FACEREC_AUDIT_KEY", "DATABASE_URL",
                    "CELERY_BROKER_URL")
    assert not [name for name in env if any(secret in name for secret in secret_names)]
    assert not [arguments for keyword, arguments in instructions if keyword == "ARG"
                and any(secret in arguments for secret in secret_names)]
    # State on the volumes' mount points; static files in the image, not under a volume that would hide them.
    assert env["FACEREC_VAR_DIR"] == "/data/var"
    assert env["MEDIA_ROOT"] == "/data/media" and env["FACEREC_MODELS_DIR"] == "/data/models"
    assert not env["STATIC_ROOT"].startswith("/data/")
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the site must not run as root"
    assert "deploy/collectstatic.sh" in _collectstatic_step()


def test_the_build_step_writes_static_files_and_nothing_else(tmp_path):
    """The RUN line, as written, in a fake root: the build context copied to WORKDIR, the
    Dockerfile's ENV with its absolute paths moved under the fake root."""
    fake_root = tmp_path / "root"
    workdir = fake_root / next(arguments for keyword, arguments in dockerfile_instructions()
                               if keyword == "WORKDIR").lstrip("/")
    for relative in build_context(REPO_ROOT):
        source, target = REPO_ROOT / relative, workdir / relative
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for folder in ("tmp", "root"):  # the image's /tmp (mktemp) and root's home
        (fake_root / folder).mkdir(exist_ok=True)
    env = {name: str(fake_root / value.lstrip("/")) if value.startswith("/") else value
           for name, value in dockerfile_env().items()}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
               HOME=str(fake_root / "root"), TMPDIR=str(fake_root / "tmp"), LANG="C.UTF-8")
    before = {path for path in fake_root.rglob("*") if path.is_file()}

    result = subprocess.run(["/bin/sh", "-c", _collectstatic_step()], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    static_root = Path(env["STATIC_ROOT"])
    written = {path for path in fake_root.rglob("*") if path.is_file()} - before
    # Python's bytecode caches beside the code are the only files outside STATIC_ROOT.
    outside = [str(path.relative_to(fake_root)) for path in written
               if not path.is_relative_to(static_root) and path.parent.name != "__pycache__"]
    assert not outside, f"the build step left files outside STATIC_ROOT: {outside}"
    assert not [path for path in written if path.name in {"secret_key", "photo_keys", "initial_admin_password",
                                                         "audit_checkpoint.json"}]
    assert not list((fake_root / "tmp").iterdir()), "the throwaway FACEREC_VAR_DIR was not removed"
    assert not (fake_root / "data").exists()
    assert (static_root / "admin" / "css" / "base.css").is_file()
    assert (static_root / "drf_spectacular_sidecar").is_dir()  # Swagger UI served from the image


def test_the_build_step_refuses_to_run_without_a_static_root(tmp_path):
    """Without STATIC_ROOT settings would put static files under the throwaway folder."""
    result = subprocess.run(["/bin/sh", str(REPO_ROOT / "deploy" / "collectstatic.sh")], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
                            capture_output=True, text=True, timeout=30)

    assert result.returncode != 0 and "STATIC_ROOT" in result.stderr
    assert not list(tmp_path.iterdir())

