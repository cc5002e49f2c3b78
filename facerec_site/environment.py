"""The one way configuration is read: the process environment, then the `.env` file.

Every entry point (manage.py, `make run`, Celery workers and beat, gunicorn, the tests)
calls `load()` before anything decides whether to start the embedded servers, so the
decision and the settings read the same values: a DATABASE_URL that lives only in `.env`
can no longer be missed by one of them. Variables already set in the environment win over
the file. No Django: this runs before settings can be imported.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

REPO_ROOT = Path(__file__).resolve().parent.parent
# An operator may keep the file elsewhere (e.g. /etc/facerec/env); the tests use this too.
ENV_FILE_VARIABLE = "FACEREC_ENV_FILE"
# prometheus_client's multiprocess mode: every process (gunicorn's, Celery's, beat) writes its samples
# there and /metrics adds them up. Read by prometheus_client when it is imported, hence set here.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

_loaded: set[Path] = set()


def env_file() -> Path:
    """The file `load()` reads: $FACEREC_ENV_FILE, or `.env` beside manage.py."""
    return Path(os.environ.get(ENV_FILE_VARIABLE) or REPO_ROOT / ".env")


def load() -> Path | None:
    """Read the env file into os.environ (set variables are kept), once per process and file.

    Returns the file read, or None when there is none. A FACEREC_ENV_FILE that names a missing
    file is a mistake worth stopping for: the platform would silently run on its defaults.
    """
    path = _read_env_file()
    _default_metrics_dir()  # after the file, which may set FACEREC_VAR_DIR
    return path


def _read_env_file() -> Path | None:
    path = env_file()
    if path in _loaded:
        return path
    if not path.is_file():
        if os.environ.get(ENV_FILE_VARIABLE):
            raise SystemExit(f"{ENV_FILE_VARIABLE}={path} does not exist: create it or unset {ENV_FILE_VARIABLE}")
        return None
    if not os.access(path, os.R_OK):  # django-environ would skip it quietly: the defaults would start instead
        raise SystemExit(f"{path} exists but this account ({os.getuid()}) cannot read it: fix its owner or mode")
    environ.Env.read_env(path, overwrite=False)
    _loaded.add(path)
    return path


def configured(name: str) -> str:
    """A variable's value after `load()`: from the environment or the env file ('' when unset)."""
    load()
    return os.environ.get(name, "")


def _default_metrics_dir() -> None:
    """$PROMETHEUS_MULTIPROC_DIR, by default <FACEREC_VAR_DIR or var>/prometheus, made to exist."""
    if not os.environ.get(METRICS_DIR_VARIABLE):
        var_dir = Path(os.environ.get("FACEREC_VAR_DIR") or REPO_ROOT / "var")
        os.environ[METRICS_DIR_VARIABLE] = str(var_dir / "prometheus")
    Path(os.environ[METRICS_DIR_VARIABLE]).mkdir(parents=True, exist_ok=True)


def clear_metrics_dir() -> None:
    """Remove the metric files of processes of an earlier run (make run, before it starts any)."""
    load()
    for path in Path(os.environ[METRICS_DIR_VARIABLE]).glob("*.db"):
        path.unlink(missing_ok=True)
