"""Health of the platform's moving parts, for /healthz and operators.

Each check returns a small dict with `ok` and what it saw; none raises.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from cameras.selectors import camera_states
from facerec_site.celery import app as celery_app
from facerec_site.workers import queue_backlog, worker_states
from recognition.db_extension import MINIMUM_PGVECTOR, dotted, version_at_least
from recognition.pipeline.facenet import loading as weights
from recognition.runtime import get_embedder

QUEUES = ("default", settings.GPU_QUEUE)
WEIGHTS_NOT_PREPARED = "weights not prepared: run `make weights` (python -m recognition.pipeline.prepare_weights)"


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector')")
            version, pgvector = cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the reason is shown
        return {"ok": False, "error": _short(exc)}
    status = {"ok": pgvector is not None, "server": version.split(" on ")[0], "pgvector": pgvector}
    if pgvector is None:
        status["error"] = "the vector extension is not installed: run `manage.py migrate`"
    elif not version_at_least(pgvector):  # a database migrated before 0.8 was required
        status.update(ok=False, error=f"pgvector {pgvector} is older than {dotted(MINIMUM_PGVECTOR)}: "
                                      "run ALTER EXTENSION vector UPDATE; as an administrator")
    return status


def check_broker(timeout_s: float = 2.0) -> dict[str, Any]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout_s)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "error": _short(exc)}
    return {"ok": True, "transport": str(transport)}


def check_workers(timeout_s: float = 1.0) -> dict[str, Any]:
    """The workers alive now and the queues each consumes (one broadcast, facerec_site.workers)."""
    try:
        states = worker_states(celery_app, timeout_s=timeout_s)
    except Exception as exc:
        return {"ok": False, "count": 0, "error": _short(exc)}
    names = states.names
    return {"ok": bool(names), "count": len(names), "workers": names,
            "consumers": {queue: states.consumers(queue) for queue in QUEUES}}


def check_queues(workers: dict[str, Any]) -> dict[str, Any]:
    """Each queue has a worker consuming it, and its oldest message has not waited too long
    (FACEREC_QUEUE_MAX_WAIT_S): a queue no worker serves, or one falling behind, is a fault even
    while some worker answers pings."""
    consumers = workers.get("consumers") or {}
    status: dict[str, Any] = {}
    for queue in QUEUES:
        try:
            backlog = queue_backlog(celery_app, queue)
        except Exception as exc:
            status[queue] = {"ok": False, "error": _short(exc)}
            continue
        serving = consumers.get(queue, [])
        problem = None
        if not serving:
            problem = "no worker consumes this queue"
        elif backlog["oldest_s"] is not None and backlog["oldest_s"] > settings.FACEREC_QUEUE_MAX_WAIT_S:
            problem = f"the oldest message has waited over {settings.FACEREC_QUEUE_MAX_WAIT_S} s"
        status[queue] = {"ok": problem is None, "consumers": serving, **backlog, **({"error": problem} if problem
                                                                                   else {})}
    return {"ok": all(queue["ok"] for queue in status.values()), **status}


# A worker ping waits its whole time-out for replies (a broadcast cannot know how many will
# come), so /healthz reuses the last answer: fresh for WORKER_FRESH_S, then served while one
# refresh runs in the background; past WORKER_STALE_S (no refresh got through) it asks and
# waits. A worker that died is reported within WORKER_STALE_S.
WORKER_FRESH_S = 10.0
WORKER_STALE_S = 30.0
_workers_seen: dict[str, Any] = {"at": None, "result": None}
_workers_lock = threading.Lock()
_refreshing = threading.Event()


def _refresh_workers() -> dict[str, Any]:
    result = check_workers()
    with _workers_lock:
        _workers_seen.update(at=time.monotonic(), result=result)
    return result


def _refresh_in_background() -> None:
    try:
        _refresh_workers()
    finally:
        _refreshing.clear()


def cached_worker_check() -> dict[str, Any]:
    """check_workers, answered from the last ping while it is recent (see WORKER_FRESH_S)."""
    with _workers_lock:
        at, result = _workers_seen["at"], _workers_seen["result"]
    age = None if at is None else time.monotonic() - at
    if age is None or age > WORKER_STALE_S:
        result, age = _refresh_workers(), 0.0
    elif age > WORKER_FRESH_S and not _refreshing.is_set():
        _refreshing.set()
        threading.Thread(target=_refresh_in_background, name="healthz-worker-ping", daemon=True).start()
    return {**result, "checked_s_ago": round(age, 1)}


def forget_workers() -> None:
    """Drop the remembered ping (tests; a process that knows the workers changed)."""
    with _workers_lock:
        _workers_seen.update(at=None, result=None)


def weight_files() -> dict[str, Any]:
    """Are the configured weights prepared on this machine? Files only, and no torch: a Celery worker
    asks this in its parent process, before the pool forks (CUDA must not be initialised there)."""
    spec, models_dir = settings.FACEREC_WEIGHTS, Path(settings.FACEREC_MODELS_DIR)
    status: dict[str, Any] = {"weights": spec}
    if spec == "casia-webface":
        meta = weights.read_sidecar(models_dir / weights.SIDECAR_FILENAME) or {}
        status.update(version=meta.get("version"), sha256=meta.get("sha256"))
        present = bool(meta) and (models_dir / weights.PT_FILENAME).is_file()
    elif spec == "vggface2":
        present = weights.vggface2_cache_path().is_file()
    else:
        present = Path(spec).is_file()
    status["ok"] = present
    if not present:
        status["error"] = WEIGHTS_NOT_PREPARED
    return status


def check_models() -> dict[str, Any]:
    """Are the configured weights on disk, and which device/backend embeds with them?

    Looks at files only (no network load on a health probe); their SHA-256 is
    verified when a worker loads them.
    """
    embedder = get_embedder()
    status = {**weight_files(), "device": embedder.device, "backend": embedder.backend}
    if (status["ok"] and settings.FACEREC_WEIGHTS == "casia-webface" and embedder.backend == "onnx"
            and not any(Path(settings.FACEREC_MODELS_DIR).glob("*.onnx"))):
        status.update(ok=False, error=WEIGHTS_NOT_PREPARED)
    return status


def platform_health() -> dict[str, Any]:
    started = time.monotonic()
    checks = {"database": check_database(), "broker": check_broker()}
    # Without a broker, asking for workers would only wait for the time-out.
    checks["worker"] = cached_worker_check() if checks["broker"]["ok"] else {"ok": False, "count": 0,
                                                                        "error": "broker down"}
    checks["queues"] = check_queues(checks["worker"]) if checks["broker"]["ok"] else {"ok": False,
                                                                                     "error": "broker down"}
    try:
        checks["models"] = check_models()
    except Exception as exc:
        checks["models"] = {"ok": False, "error": _short(exc)}
    # Each camera's state (connected, last frame, fps, error) and the live watchers.
    try:
        checks["cameras"] = camera_states() if checks["database"]["ok"] else {"ok": False, "error": "database down"}
    except Exception as exc:
        checks["cameras"] = {"ok": False, "error": _short(exc)}
    return {
        "ok": all(check["ok"] for check in checks.values()),
        "checks": checks,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }


def summary(health: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: up or down, per check. Versions, host names, weight paths and
    error text stay with admins and local callers (they map the site for an attacker)."""
    return {"ok": health["ok"], "checks": {name: {"ok": check["ok"]} for name, check in health["checks"].items()}}


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]
