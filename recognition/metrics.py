"""Recognition's own Prometheus instruments: answers by outcome and the time of each stage.

Observed in recognition/services/matching.py; exported by monitoring's /metrics (multiprocess:
every gunicorn and Celery process writes its samples to $PROMETHEUS_MULTIPROC_DIR).
No identity, name or score is ever a label: outcomes and stage names only.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

# identify: identified | unknown | liveness_failed, per face; verify: match | no_match | liveness_failed
ANSWERS = Counter("facerec_recognition_answers_total", "Identify/verify answers by outcome",
                  ["kind", "outcome"])
STAGE_SECONDS = Histogram("facerec_recognition_stage_seconds", "Time of each recognition stage",
                          ["kind", "stage"],
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


@contextmanager
def stage(kind: str, name: str):
    """Times the block as one stage (decode, detect, embed, search, classify) of an identify or verify."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(kind=kind, stage=name).observe(time.perf_counter() - started)


def count_identify(faces) -> None:
    for face in faces:
        outcome = ("liveness_failed" if face.reason == "liveness_failed"
                   else "identified" if face.identity_id is not None else "unknown")
        ANSWERS.labels(kind="identify", outcome=outcome).inc()


def count_verify(result) -> None:
    outcome = "match" if result.match else "liveness_failed" if result.reason == "liveness_failed" else "no_match"
    ANSWERS.labels(kind="verify", outcome=outcome).inc()
