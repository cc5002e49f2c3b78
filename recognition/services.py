"""Writes of the recognition side: templates and classifier versions."""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from pgvector.django import CosineDistance

from identities import audit
from recognition.models import ClassifierVersion, FaceEmbedding


def store_embedding(*, image, vector: np.ndarray, model_name: str, model_version: str) -> FaceEmbedding:
    """Idempotent per (photo, model version): a re-run replaces the vector, never duplicates it."""
    embedding, _ = FaceEmbedding.objects.update_or_create(
        image=image, model_version=model_version,
        defaults={"identity_id": image.identity_id, "vector": vector.astype(np.float32).tolist(),
                  "model_name": model_name, "active": image.status == "approved"},
    )
    return embedding


def possible_duplicate(vector: np.ndarray, *, model_version: str, exclude_identity_id: int) -> dict | None:
    """The closest active template of another identity, when it matches above the threshold."""
    nearest = (FaceEmbedding.objects.filter(active=True, model_version=model_version)
               .exclude(identity_id=exclude_identity_id)
               .annotate(distance=CosineDistance("vector", vector.tolist()))
               .order_by("distance").first())
    if nearest is None:
        return None
    similarity = 1.0 - float(nearest.distance)
    if similarity < settings.FACEREC_VERIFY_THRESHOLD:
        return None
    # Ids only: a name copied here would outlive that person's erasure.
    return {"identity_id": nearest.identity_id, "similarity": round(similarity, 4),
            "threshold": settings.FACEREC_VERIFY_THRESHOLD}


def request_retrain() -> None:
    """Ask for a classifier retrain; requests arriving while one waits coalesce into it."""
    def _enqueue():
        from recognition.tasks import retrain_classifier

        try:
            with transaction.atomic():
                version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING)
        except IntegrityError:
            return  # one is already waiting: it will see these changes too
        retrain_classifier.apply_async(args=[version.pk], countdown=settings.FACEREC_RETRAIN_DELAY_S)

    transaction.on_commit(_enqueue)


def current_model_version() -> str:
    from recognition.runtime import get_embedder

    return get_embedder().model_info.version


def retrain(version_id: int) -> ClassifierVersion | None:
    """Train on the active templates; the version becomes current only when training finished."""
    from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities

    claimed = ClassifierVersion.objects.filter(pk=version_id, status=ClassifierVersion.Status.PENDING).update(
        status=ClassifierVersion.Status.TRAINING, started_at=timezone.now())
    if not claimed:
        return None
    version = ClassifierVersion.objects.get(pk=version_id)
    model_version = current_model_version()
    rows = list(FaceEmbedding.objects.filter(active=True, model_version=model_version)
                .values_list("identity_id", "vector"))
    started = time.monotonic()
    out_dir = Path(settings.FACEREC_CLASSIFIERS_DIR) / f"v{version.pk}"
    try:
        labels = np.array([str(identity_id) for identity_id, _ in rows])
        X = np.array([np.asarray(vector, dtype=np.float32) for _, vector in rows]).reshape(len(rows), -1)
        model = FaceClassifier(min_samples_per_class=settings.FACEREC_MIN_PHOTOS_PER_IDENTITY)
        model.fit(X, labels, model_version=model_version)
        model.save(out_dir)
    except NotEnoughIdentities as exc:
        return _finish(version, ClassifierVersion.Status.SKIPPED, model_version, error=str(exc), n_samples=len(rows))
    except Exception:
        shutil.rmtree(out_dir, ignore_errors=True)
        return _finish(version, ClassifierVersion.Status.FAILED, model_version, error=traceback.format_exc()[-2000:],
                       n_samples=len(rows))
    meta = model.metadata_
    return _finish(version, ClassifierVersion.Status.READY, model_version, artifact_dir=str(out_dir),
                   kernel=meta.kernel, n_identities=meta.n_classes, n_samples=meta.n_samples,
                   validation_accuracy=meta.validation_accuracy, training_seconds=time.monotonic() - started)


@transaction.atomic
def _finish(version: ClassifierVersion, status: str, model_version: str, **fields) -> ClassifierVersion:
    """Switch `current` atomically: readers see the old version or the new one, never none."""
    version = ClassifierVersion.objects.select_for_update().get(pk=version.pk)
    version.status, version.model_version, version.finished_at = status, model_version, timezone.now()
    for name, value in fields.items():
        setattr(version, name, value)
    if status in (ClassifierVersion.Status.READY, ClassifierVersion.Status.SKIPPED):
        # A SKIPPED version is current too: it tells identification to use nearest neighbours alone.
        ClassifierVersion.objects.filter(current=True).update(current=False)
        version.current = True
    version.save()
    audit.record(action="classifier.retrain", target=version,
                 details={"status": status, "identities": version.n_identities, "samples": version.n_samples,
                          "validation_accuracy": version.validation_accuracy})
    return version
