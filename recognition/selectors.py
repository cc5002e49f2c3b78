"""Reads of the recognition side: templates, nearest neighbours, the current classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from pgvector.django import CosineDistance

from recognition.models import ClassifierVersion, FaceEmbedding


def current_classifier(model_version: str) -> ClassifierVersion | None:
    """The classifier identification uses for embeddings of `model_version`."""
    return ClassifierVersion.objects.filter(current=True, model_version=model_version).first()


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
