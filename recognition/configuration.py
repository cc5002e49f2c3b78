"""Recognition's settings vocabulary: the values its FACEREC_* settings may take, checked at start-up.

Settings only read the environment; RecognitionConfig.ready() calls `check_settings()`, so every
entry point that sets Django up (web, worker, beat, manage.py) refuses a bad value before it serves.
"""

from __future__ import annotations

from typing import get_args

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from recognition.pipeline.facenet.embedder import BACKENDS, Device
from recognition.pipeline.quality import POLICIES

DEVICES: tuple[str, ...] = get_args(Device)
# Passive liveness (MiniFASNet, recognition/pipeline/liveness/): `off`, `report` (every face
# of identify, verify and enrollment gets its liveness score) or `enforce` (faces that fail
# are not identified, verify answers no match, enrollment photos are rejected). Callers
# holding the `choose_liveness` capability may pick another policy per request.
LIVENESS_POLICIES = ("off", "report", "enforce")
# The default first: a photo with several people goes to review.
FACE_POLICIES = ("review", *(policy for policy in POLICIES if policy != "review"))
MIN_DETECT_FACE_PX = 12  # MTCNN's smallest window
HNSW_EF_SEARCH_RANGE = (1, 1000)  # pgvector's range


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}, not {value!r}")


def check_settings() -> None:
    """Stop the start with the allowed values when a recognition setting has another."""
    _one_of("FACEREC_DEVICE", settings.FACEREC_DEVICE, DEVICES)
    _one_of("FACEREC_EMBEDDING_BACKEND", settings.FACEREC_EMBEDDING_BACKEND, BACKENDS)
    _one_of("FACEREC_QUALITY_FACE_POLICY", settings.FACEREC_QUALITY["policy"], FACE_POLICIES)
    _one_of("FACEREC_LIVENESS", settings.FACEREC_LIVENESS, LIVENESS_POLICIES)
    min_face_px = settings.FACEREC_MIN_DETECT_FACE_PX
    if min_face_px is not None and min_face_px < MIN_DETECT_FACE_PX:
        raise ImproperlyConfigured(f"FACEREC_MIN_DETECT_FACE_PX must be at least {MIN_DETECT_FACE_PX} (MTCNN's "
                                   f"smallest window), not {min_face_px:g}")
    ef_search, (low, high) = settings.FACEREC_HNSW_EF_SEARCH, HNSW_EF_SEARCH_RANGE
    if ef_search is not None and not low <= ef_search <= high:
        raise ImproperlyConfigured(f"FACEREC_HNSW_EF_SEARCH must be from {low} to {high} (pgvector's range), "
                                   f"not {ef_search}")
