"""Model files on disk: their sha256, the ``.json`` sidecars recording where they came from, the
cache of files built from others (ONNX exports, int8 models) and the lock serialising builds.

Files are written with core.files.write_file_atomically (readers never see half a file), 0644:
the web workers may run as another user than the one who prepared the weights.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from core.files import write_file_atomically
from recognition.pipeline.errors import WeightsUnavailable

LOCK_FILENAME = ".facenet.lock"  # the name predates the other models; kept so old and new processes share it


def required_models_dir(models_dir: Path | str | None) -> Path:
    """`models_dir` as a Path: the pipeline has no folder of its own, its caller says where the weights are."""
    if models_dir is None:
        raise WeightsUnavailable("no models folder given: pass models_dir, the folder `make weights` prepares")
    return Path(models_dir)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_artifact(path: Path, data: bytes) -> None:
    """`data` at `path` (its folder created), atomically and readable by every user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(path, data, mode=0o644)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_sidecar(path: Path, meta: dict[str, Any]) -> None:
    write_artifact(path, (json.dumps(meta, indent=2) + "\n").encode())


def cached_export_sha256(path: Path, expected: dict[str, Any]) -> str | None:
    """The sha256 of a file derived from others (an ONNX export, a quantised model) cached at
    `path`, when its ``<path>.json`` sidecar records `expected` (what it was built from: their
    sha256, a recipe) and the file still hashes to the sha256 recorded there; else None:
    missing, built from something else, or corrupted, so build it again."""
    meta = read_sidecar(Path(f"{path}.json"))
    if meta is None or not path.is_file() or any(meta.get(key) != value for key, value in expected.items()):
        return None
    if sha256_file(path) != meta.get("sha256"):
        return None
    return meta["sha256"]


def ensure_cached_export(path: Path, models_dir: Path, expected: dict[str, Any],
                         build: Callable[[], tuple[bytes, dict[str, Any]]]) -> str:
    """`path`'s sha256, building it first when the cache is not valid for `expected`.

    `build()` returns the file's bytes and the facts to record beside `expected` in the
    sidecar. It runs under the models dir lock, after a second look: another process may
    have built the file meanwhile."""
    sha = cached_export_sha256(path, expected)
    if sha is not None:
        return sha
    with models_dir_lock(models_dir):
        sha = cached_export_sha256(path, expected)
        if sha is not None:
            return sha
        data, facts = build()
        sha = hashlib.sha256(data).hexdigest()
        write_artifact(path, data)
        write_sidecar(Path(f"{path}.json"), {"sha256": sha, **facts, **expected})
    return sha


@contextlib.contextmanager
def models_dir_lock(models_dir: Path) -> Iterator[None]:
    """Serialise conversions/exports between processes (e.g. several web workers)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / LOCK_FILENAME, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


__all__ = ["cached_export_sha256", "ensure_cached_export", "models_dir_lock", "read_sidecar", "required_models_dir",
           "sha256_file", "write_artifact", "write_sidecar"]
