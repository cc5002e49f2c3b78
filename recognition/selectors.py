"""Reads of the recognition side: templates, nearest neighbours, the current classifier and thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from pgvector.django import CosineDistance

from recognition.models import ClassifierVersion, FaceEmbedding, RecognitionThreshold


def current_classifier(model_version: str) -> ClassifierVersion | None:
    """The classifier identification uses for embeddings of `model_version`."""
    return ClassifierVersion.objects.filter(current=True, model_version=model_version).first()


# The setting that gives each kind's threshold while none is stored for the serving model.
THRESHOLD_SETTINGS = {
    RecognitionThreshold.Kind.VERIFY: "FACEREC_VERIFY_THRESHOLD",
    RecognitionThreshold.Kind.IDENTIFY: "FACEREC_IDENTIFY_THRESHOLD",
}


@dataclass(frozen=True)
class ThresholdInUse:
    value: float
    source: str  # said in every answer: where the value came from, who applied it and when
    set_by_name: str | None = None
    set_at: datetime | None = None
    stored: RecognitionThreshold | None = None  # None: the default setting


def current_threshold(kind: str, *, model_version: str) -> ThresholdInUse:
    """The threshold in force: the latest one applied for `model_version`, else the setting."""
    kind = RecognitionThreshold.Kind(kind)
    row = (RecognitionThreshold.objects.filter(kind=kind, model_version=model_version)
           .select_related("set_by").order_by("-set_at", "-id").first())
    if row is None:
        name = THRESHOLD_SETTINGS[kind]
        return ThresholdInUse(value=float(getattr(settings, name)), source=f"default setting {name}")
    return ThresholdInUse(value=row.value, source=describe_threshold(row), set_by_name=row.set_by_name or None,
                          set_at=row.set_at, stored=row)


def describe_threshold(row: RecognitionThreshold) -> str:
    """E.g. "evaluation report #12, applied by alice on 2026-11-29 10:02 UTC"."""
    verb = "applied" if row.report_id is not None else "set"
    by = f" by {row.set_by_name}" if row.set_by_name else ""
    when = row.set_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{row.source}, {verb}{by} on {when}" if row.source else f"{verb}{by} on {when}"


def active_templates(model_version: str):
    return FaceEmbedding.objects.filter(active=True, model_version=model_version, identity__status="active")


@dataclass(frozen=True)
class Neighbour:
    identity_id: int
    similarity: float  # cosine similarity to that identity's closest template


def nearest_identities(vector: np.ndarray, *, model_version: str, limit: int) -> list[Neighbour]:
    """Identities whose templates are closest to `vector` (HNSW search), best first, one row each."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Per query: wider search than pgvector's default 40 for better recall on large galleries.
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(settings.FACEREC_HNSW_EF_SEARCH)])
            # pgvector 0.8: keep scanning the graph when the filters (active, model version)
            # drop rows, instead of returning fewer than asked for.
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = list(active_templates(model_version)
                    .annotate(distance=CosineDistance("vector", vector.astype(np.float32).tolist()))
                    .order_by("distance").values_list("identity_id", "distance")[: max(limit * 10, 50)])
    best: dict[int, float] = {}
    for identity_id, distance in rows:
        best.setdefault(identity_id, 1.0 - float(distance))
    return [Neighbour(i, s) for i, s in sorted(best.items(), key=lambda kv: -kv[1])[:limit]]


def identity_similarity(vector: np.ndarray, *, identity_id: int, model_version: str) -> tuple[float, int] | None:
    """Best cosine similarity to the identity's active templates, and how many there are."""
    templates = list(active_templates(model_version).filter(identity_id=identity_id)
                     .annotate(distance=CosineDistance("vector", vector.astype(np.float32).tolist()))
                     .values_list("distance", flat=True))
    if not templates:
        return None
    return 1.0 - float(min(templates)), len(templates)
