"""Templates: which embeddings are searched and trained on, and embedding a stored photo's face
(enrollment and re-embedding after a model change share it)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from django.conf import settings

from identities.models import EnrollmentImage, Identity
from identities.storage import PhotoUndecryptable
from recognition.models import FaceEmbedding, MatchScore
from recognition.pipeline.detection import Detection
from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.faces import FacePipeline
from recognition.pipeline.quality import face_at
from recognition.runtime import get_pipeline_for, read_image_file


def activate_templates(*, photo_ids: Iterable[int]) -> int:
    """The templates of these photos become active (searched, trained on); returns how many changed."""
    return FaceEmbedding.objects.filter(image_id__in=list(photo_ids)).update(active=True)


def deactivate_templates(*, photo_ids: Iterable[int] | None = None, identity=None) -> int:
    """The active templates of these photos, or of this person, stop being used; returns how many."""
    if (photo_ids is None) == (identity is None):
        raise ValueError("give photo_ids or identity")
    templates = (FaceEmbedding.objects.filter(identity=identity) if identity is not None
                 else FaceEmbedding.objects.filter(image_id__in=list(photo_ids)))
    return templates.filter(active=True).update(active=False)


def delete_recognition_data(*, identity) -> dict[str, int]:
    """Erasure: the person's templates and recorded match scores go; returns the counts."""
    return {"embeddings": FaceEmbedding.objects.filter(identity=identity).delete()[0],
            "match_scores": MatchScore.objects.filter(identity=identity).delete()[0]}


def store_embedding(*, image, vector: np.ndarray, model_name: str, model_version: str) -> FaceEmbedding:
    """Idempotent per (photo, model version): a re-run replaces the vector, never duplicates it."""
    embedding, _ = FaceEmbedding.objects.update_or_create(
        image=image, model_version=model_version,
        defaults={"identity_id": image.identity_id, "vector": vector.astype(np.float32).tolist(),
                  "model_name": model_name, "active": image.status == EnrollmentImage.Status.APPROVED},
    )
    return embedding


def read_photo_faces(file, pipeline: FacePipeline) -> tuple[np.ndarray, list[Detection]]:
    """A stored photo's pixels and the faces found in them, most probable first.

    Raises ImageRejected when the file is no longer a usable image (and what opening it raises)."""
    pixels = read_image_file(file)
    return pixels, pipeline.detector.detect(pixels)


def embed_face(pixels: np.ndarray, detection: Detection, pipeline: FacePipeline) -> tuple[np.ndarray, np.ndarray]:
    """One detected face: (its crop, cut as the pipeline cuts every face; its unit embedding)."""
    crop = pipeline.crop(pixels, detection)
    return crop, pipeline.embedder.embed(crop[None])[0]


# --- re-embedding after a model change ---------------------------------------------


def reembed_batch(*, batch_size: int = 64, weights: str | None = None) -> dict[str, int | str]:
    """Embed the next `batch_size` approved/awaiting photos lacking an embedding of `weights`.

    `weights` defaults to the serving FACEREC_WEIGHTS; a model change passes the next
    weights, so their templates fill in while the current ones keep serving.
    Idempotent and resumable: it only looks for what is missing. Returns what it did
    and how many are left; the caller (a task) repeats until nothing is left.
    """
    pipeline = get_pipeline_for(weights or settings.FACEREC_WEIGHTS)
    info = pipeline.embedder.model_info
    todo = (EnrollmentImage.objects
            .filter(status__in=[EnrollmentImage.Status.APPROVED, EnrollmentImage.Status.AWAITING_REVIEW],
                    identity__status=Identity.Status.ACTIVE)
            .exclude(embeddings__model_version=info.version).order_by("pk"))
    batch = list(todo[:batch_size])
    done = failed = 0
    for image in batch:
        try:
            pixels, detections = read_photo_faces(image.file, pipeline)
        except (ImageRejected, PhotoUndecryptable, OSError):  # this photo's file, not the model: go on
            failed += 1
            continue
        # The face that was reviewed, found again by its stored box (with its own landmarks).
        detection = (face_at(detections, image.face_box) if image.face_box
                     else detections[0] if detections else None)
        if detection is None:
            failed += 1
            continue
        _, vector = embed_face(pixels, detection, pipeline)
        store_embedding(image=image, vector=vector, model_name=info.name, model_version=info.version)
        done += 1
    remaining = max(todo.count() - failed, 0)
    return {"model_version": info.version, "embedded": done, "failed": failed, "remaining": remaining}
