"""Reads of the recognition side: templates, nearest neighbours, the current classifier and thresholds."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector.django import CosineDistance, MaxInnerProduct

from accounts.roles import can
from identities.models import Identity
from identities.selectors import visible_identities
from recognition.models import EMBEDDING_DIM, ClassifierVersion, FaceEmbedding, RecognitionThreshold
from recognition.pipeline.classifier import FaceClassifier
from recognition.pipeline.open_set import Scorer
from recognition.runtime import get_embedder

log = logging.getLogger(__name__)


def current_model_version() -> str:
    """The serving embedding model (FACEREC_WEIGHTS): templates and thresholds are kept per version."""
    return get_embedder().model_info.version


def current_classifier(model_version: str) -> ClassifierVersion | None:
    """The classifier identification uses for embeddings of `model_version`."""
    return ClassifierVersion.objects.filter(current=True, model_version=model_version).first()


# The setting that gives each kind's threshold while none is stored for the serving model.
THRESHOLD_SETTINGS = {
    RecognitionThreshold.Kind.VERIFY: "FACEREC_VERIFY_THRESHOLD",
    RecognitionThreshold.Kind.IDENTIFY: "FACEREC_IDENTIFY_THRESHOLD",
}
# Weights shipped without a score calibration compare plain cosine similarity against this.
UNCALIBRATED_THRESHOLD = 0.45


@functools.cache
def scorer(model_version: str) -> Scorer:
    """The score calibration shipped with these weights (none: plain cosine similarity)."""
    return Scorer.for_model(model_version)


@dataclass(frozen=True)
class ThresholdInUse:
    value: float
    source: str  # said in every answer: where the value came from, who applied it and when
    set_by_name: str | None = None
    set_at: datetime | None = None
    stored: RecognitionThreshold | None = None  # None: the default


def default_threshold(kind: str, *, model_version: str) -> ThresholdInUse:
    """The setting when given; else the calibrated rate's threshold; else the uncalibrated constant."""
    kind = RecognitionThreshold.Kind(kind)
    name = THRESHOLD_SETTINGS[kind]
    if getattr(settings, name) is not None:
        return ThresholdInUse(value=float(getattr(settings, name)), source=f"default setting {name}")
    rate, rate_name = ((settings.FACEREC_TARGET_FAR, "FAR") if kind == RecognitionThreshold.Kind.VERIFY
                       else (settings.FACEREC_TARGET_FPIR, "FPIR"))
    calibrated = scorer(model_version).threshold_at(rate)
    if calibrated is None:
        return ThresholdInUse(value=UNCALIBRATED_THRESHOLD,
                              source="built-in default (these weights have no calibration)")
    per = "per claim, whatever the templates compared" if kind == RecognitionThreshold.Kind.VERIFY \
        else "whatever the gallery size"
    return ThresholdInUse(value=round(calibrated, 4),
                          source=f"calibrated default: {rate_name} {rate:g} {per} (LFW impostor pairs)")


def current_threshold(kind: str, *, model_version: str) -> ThresholdInUse:
    """The threshold in force: the latest one applied for `model_version`, else the default."""
    kind = RecognitionThreshold.Kind(kind)
    row = (RecognitionThreshold.objects.filter(kind=kind, model_version=model_version)
           .select_related("set_by").order_by("-set_at", "-id").first())
    if row is None:
        return default_threshold(kind, model_version=model_version)
    return ThresholdInUse(value=row.value, source=describe_threshold(row), set_by_name=row.set_by_name or None,
                          set_at=row.set_at, stored=row)


def describe_threshold(row: RecognitionThreshold) -> str:
    """E.g. "evaluation report #12, applied by alice on 2026-11-29 10:02 UTC"."""
    verb = "applied" if row.report_id is not None else "set"
    by = f" by {row.set_by_name}" if row.set_by_name else ""
    when = row.set_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{row.source}, {verb}{by} on {when}" if row.source else f"{verb}{by} on {when}"


def threshold_for(kind: str, requested: float | None, model_version: str) -> tuple[float, str]:
    """The request's threshold, else the one in force for the model; and where it came from."""
    if requested is not None:
        return requested, "request"
    in_use = current_threshold(kind, model_version=model_version)
    return in_use.value, in_use.source


def active_templates(model_version: str):
    return FaceEmbedding.objects.filter(active=True, model_version=model_version,
                                        identity__status=Identity.Status.ACTIVE)


def training_templates(model_version: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Active templates of active identities: (template ids, identity labels, vectors), read in one pass."""
    rows = active_templates(model_version).order_by("pk").values_list("pk", "identity_id", "vector")
    ids, labels, vectors = [], [], []
    for pk, identity_id, vector in rows.iterator(chunk_size=5000):
        ids.append(pk)
        labels.append(str(identity_id))
        vectors.append(np.asarray(vector, dtype=np.float32))
    X = np.stack(vectors) if vectors else np.zeros((0, EMBEDDING_DIM), np.float32)
    return np.array(ids, dtype=np.int64), np.array(labels), X


@dataclass(frozen=True)
class Neighbour:
    identity_id: int
    similarity: float  # cosine similarity to that identity's closest template
    score_similarity: float  # the same in the calibrated space (mean subtracted), scores start from it


_TEMPLATE_COUNT_TTL_S = 30.0
_template_counts: dict[str, tuple[float, int]] = {}


def templates_of_photos(photo_ids, model_version: str | None = None) -> np.ndarray | None:
    """The serving model's embeddings of these photos (active or not), one row each; None when there are none.
    Enrollment asks which face of a group photo is most like the person's other photos."""
    if model_version is None:
        model_version = current_model_version()
    vectors = list(FaceEmbedding.objects.filter(image_id__in=list(photo_ids), model_version=model_version)
                   .values_list("vector", flat=True))
    return np.stack([np.asarray(v, dtype=np.float32) for v in vectors]) if vectors else None


def active_template_count(model_version: str) -> int:
    """Templates a probe is compared with in identify (cached briefly: scores depend on its log)."""
    now = time.monotonic()
    cached = _template_counts.get(model_version)
    if cached is None or now - cached[0] > _TEMPLATE_COUNT_TTL_S:
        cached = (now, active_templates(model_version).count())
        _template_counts[model_version] = cached
    return cached[1]


def forget_template_counts() -> None:
    _template_counts.clear()


def _template_similarities(templates, vector: np.ndarray, model_version: str, limit: int | None = None
                           ) -> list[tuple[int, float, float]]:
    """(identity_id, raw cosine, calibrated-space cosine) per template of `templates`, nearest first.

    The calibrated cosine comes from x.t and t.m (Scorer.similarity_from_raw), so no
    template vector leaves the database.
    """
    vector = np.asarray(vector, dtype=np.float32)
    calibration = scorer(model_version)
    rows = templates.annotate(distance=CosineDistance("vector", vector.tolist())).order_by("distance")
    fields = ["identity_id", "distance"]
    if calibration.mean is not None:
        rows = rows.annotate(neg_dot_mean=MaxInnerProduct("vector", calibration.mean.tolist()))
        fields.append("neg_dot_mean")
    rows = rows.values_list(*fields)
    rows = list(rows if limit is None else rows[:limit])
    if not rows:
        return []
    raw = 1.0 - np.array([float(r[1]) for r in rows])
    projected = raw if calibration.mean is None else calibration.similarity_from_raw(
        raw, float(vector @ calibration.mean), -np.array([float(r[2]) for r in rows]))
    return list(zip([r[0] for r in rows], raw.tolist(), np.asarray(projected).tolist()))


# The HNSW search's breadth by gallery size, measured with bench/search_bench.py on synthetic
# templates (5 per person around random centres, the hard case for a graph; recall@1 against
# exact search, 2 idle cores): ef_search 100 gives 0.990 at 100,000 templates; at 300,000 it
# gives 0.885, 200 gives 0.975 and 400 0.990 (p99 23 / 40 / 56 ms). Past 400 the latency grows
# faster than the recall (1M: README, Performance).
EF_SEARCH_PER_STEP = 100
EF_SEARCH_STEP_TEMPLATES = 100_000
EF_SEARCH_MAX = 400


def hnsw_ef_search(templates: int) -> int:
    """hnsw.ef_search for a gallery of `templates`: FACEREC_HNSW_EF_SEARCH when set, else 100 per
    started 100,000 templates, from 100 to 400."""
    if settings.FACEREC_HNSW_EF_SEARCH is not None:
        return int(settings.FACEREC_HNSW_EF_SEARCH)
    steps = max(1, -(-templates // EF_SEARCH_STEP_TEMPLATES))
    return min(EF_SEARCH_MAX, EF_SEARCH_PER_STEP * steps)


def indexed_templates(cursor) -> int:
    """Rows in the HNSW graph: every stored template, active or not, of every model version, as
    PostgreSQL estimates them (pg_class.reltuples, kept by autovacuum; 0 before the first ANALYZE).
    An estimate is enough to size the search, and it costs no count."""
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [FaceEmbedding._meta.db_table])
    row = cursor.fetchone()
    return max(0, int(row[0])) if row else 0


def nearest_identities(vector: np.ndarray, *, model_version: str, limit: int) -> list[Neighbour]:
    """Identities whose templates are closest to `vector` (HNSW search), best first, one row each."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            ef_search = hnsw_ef_search(indexed_templates(cursor))
            # Per query: wider than pgvector's default 40, and wider still as the gallery grows.
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [ef_search])
            # pgvector 0.8: keep scanning the graph when the filters (active, model version)
            # drop rows, instead of returning fewer than asked for.
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = _template_similarities(active_templates(model_version), vector, model_version,
                                      limit=max(limit * 10, 50))
    best: dict[int, tuple[float, float]] = {}
    for identity_id, raw, projected in rows:
        seen_raw, seen_projected = best.get(identity_id, (-2.0, -2.0))
        best[identity_id] = (max(raw, seen_raw), max(projected, seen_projected))
    ranked = sorted(best.items(), key=lambda kv: -kv[1][1])[:limit]
    return [Neighbour(i, raw, projected) for i, (raw, projected) in ranked]


def identity_similarity(vector: np.ndarray, *, identity_id: int, model_version: str
                        ) -> tuple[float, float, int] | None:
    """Best raw and calibrated-space cosine similarity to the identity's active templates, and how many."""
    rows = _template_similarities(active_templates(model_version).filter(identity_id=identity_id), vector,
                                  model_version)
    if not rows:
        return None
    return max(r[1] for r in rows), max(r[2] for r in rows), len(rows)


def possible_duplicate(vector: np.ndarray, *, model_version: str, exclude_identity_id: int) -> dict | None:
    """The closest other identity, when identify would answer it for this photo (its threshold, its score)."""
    neighbours = [n for n in nearest_identities(vector, model_version=model_version, limit=6)
                  if n.identity_id != exclude_identity_id]
    if not neighbours:
        return None
    nearest = neighbours[0]
    score = float(scorer(model_version).score(nearest.score_similarity, active_template_count(model_version)))
    threshold = current_threshold(RecognitionThreshold.Kind.IDENTIFY, model_version=model_version).value
    if score < threshold:
        return None
    # Ids only: a name copied here would outlive that person's erasure.
    return {"identity_id": nearest.identity_id, "similarity": round(nearest.similarity, 4),
            "score": round(score, 4), "threshold": threshold}


# --- classifiers and the gallery identify searches ------------------------------------


def loaded_classifier(artifact_dir: str) -> FaceClassifier:
    """The classifier of an artifact folder, loaded once per process and again when its files change."""
    stamp = (Path(artifact_dir) / "classifier.json").stat().st_mtime_ns
    return _load_classifier_files(artifact_dir, stamp)


@functools.lru_cache(maxsize=4)
def _load_classifier_files(artifact_dir: str, stamp: int) -> FaceClassifier:
    return FaceClassifier.load(Path(artifact_dir))


def forget_loaded_classifiers() -> None:
    """After artifact files were rewritten or deleted (the stamp alone misses a deletion)."""
    _load_classifier_files.cache_clear()


def retrain_underway() -> bool:
    """A retrain waits or runs: it will replace the current classifier anyway."""
    return ClassifierVersion.objects.filter(status__in=[ClassifierVersion.Status.PENDING,
                                                        ClassifierVersion.Status.TRAINING]).exists()


@dataclass
class Gallery:
    """What one identify call searches: the serving model's templates and its current classifier."""

    model_version: str
    templates: int  # active templates: a stranger meets every one of them
    classifier_row: ClassifierVersion | None
    classifier: FaceClassifier | None  # None: missing, training, too few identities
    # The current classifier was trained by an older release (another format): it needs replacing.
    outdated_classifier: bool = False


def serving_gallery(model_version: str) -> Gallery:
    """The gallery of `model_version` as it is now; a classifier that cannot be loaded is left out."""
    row = current_classifier(model_version)
    classifier, outdated = None, False
    if row is not None and row.status == ClassifierVersion.Status.READY and row.artifact_dir:
        try:
            classifier = loaded_classifier(row.artifact_dir)
        except OSError:  # superseded and deleted meanwhile: similarity alone
            log.warning("classifier v%s unreadable; identifying by similarity", row.pk, exc_info=True)
        except ValueError:
            log.warning("classifier v%s has an older format; identifying by similarity until it is "
                        "retrained", row.pk)
            outdated = True
    return Gallery(model_version=model_version, templates=active_template_count(model_version),
                   classifier_row=row if classifier is not None else None, classifier=classifier,
                   outdated_classifier=outdated)


# --- people, as identify and verify show them ------------------------------------------


def verifiable_identities(user) -> QuerySet[Identity]:
    """Identities a user may verify against: everyone enrolled, for whoever holds verify (a claim names one)."""
    return Identity.objects.all() if can(user, "verify") else Identity.objects.none()


def display_names(identity_ids) -> dict[int, str]:
    return dict(Identity.objects.filter(pk__in=list(identity_ids)).values_list("pk", "display_name"))


def readable_identity_ids(user, identity_ids) -> set[int]:
    """Those of `identity_ids` that `user` may read."""
    return set(visible_identities(user, Identity.objects.filter(pk__in=list(identity_ids)))
               .values_list("pk", flat=True))
