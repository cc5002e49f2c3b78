"""Writes of the recognition side: templates, classifier versions, applied thresholds; identify and verify."""

from __future__ import annotations

import functools
import logging
import math
import numbers
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pgvector.django import CosineDistance

from identities import audit
from recognition.models import ClassifierVersion, FaceEmbedding, MatchScore, RecognitionThreshold

log = logging.getLogger(__name__)


def store_embedding(*, image, vector: np.ndarray, model_name: str, model_version: str) -> FaceEmbedding:
    """Idempotent per (photo, model version): a re-run replaces the vector, never duplicates it."""
    embedding, _ = FaceEmbedding.objects.update_or_create(
        image=image, model_version=model_version,
        defaults={"identity_id": image.identity_id, "vector": vector.astype(np.float32).tolist(),
                  "model_name": model_name, "active": image.status == "approved"},
    )
    return embedding


def possible_duplicate(vector: np.ndarray, *, model_version: str, exclude_identity_id: int) -> dict | None:
    """The closest active template of another identity, when it matches above the verify threshold."""
    from recognition.selectors import current_threshold

    nearest = (FaceEmbedding.objects.filter(active=True, model_version=model_version)
               .exclude(identity_id=exclude_identity_id)
               .annotate(distance=CosineDistance("vector", vector.tolist()))
               .order_by("distance").first())
    if nearest is None:
        return None
    similarity = 1.0 - float(nearest.distance)
    threshold = current_threshold(RecognitionThreshold.Kind.VERIFY, model_version=model_version).value
    if similarity < threshold:
        return None
    # Ids only: a name copied here would outlive that person's erasure.
    return {"identity_id": nearest.identity_id, "similarity": round(similarity, 4), "threshold": threshold}


# --- applied thresholds ---------------------------------------------------------------

# Serialises threshold writes, so each row's previous_value is the one it replaced.
_THRESHOLD_LOCK_KEY = 0x74687265  # "thre"


@transaction.atomic
def set_threshold(*, kind: str, value: float, model_version: str, actor, source: str,
                  report_id: int | None = None) -> RecognitionThreshold:
    """Apply a verify or identify threshold for one embedding model version, from now on.

    Appends to the history (nothing is overwritten) and to the audit log; identify and
    verify use it for requests that give no threshold of their own.
    """
    from recognition.selectors import current_threshold

    if kind not in RecognitionThreshold.Kind.values:
        kinds = ", ".join(RecognitionThreshold.Kind.values)
        raise _domain_error(f"unknown threshold kind {kind!r}: use one of {kinds}", code="invalid_threshold",
                            field="kind")
    # Both are cosine-similarity scales (identify's score is a similarity discounted by the SVM).
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not -1.0 <= value <= 1.0:
        raise _domain_error(f"a {kind} threshold is a number from -1 to 1, not {value!r}", code="invalid_threshold",
                            field="value")
    if not model_version:
        raise _domain_error("a threshold applies to one embedding model version: name it",
                            code="invalid_threshold", field="model_version")
    source = (source or "").strip()
    if not source or len(source) > RecognitionThreshold._meta.get_field("source").max_length:
        raise _domain_error("say where the threshold comes from, in at most 200 characters", code="invalid_threshold",
                            field="source")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_THRESHOLD_LOCK_KEY])
    old = current_threshold(kind, model_version=model_version)
    user = actor if getattr(actor, "is_authenticated", False) else None
    row = RecognitionThreshold.objects.create(
        kind=kind, value=float(value), model_version=model_version, source=source, report_id=report_id,
        previous_value=old.value, set_by=user, set_by_name=user.get_username() if user else "")
    audit.record(action="recognition.threshold_set", actor=actor, target=row, details={
        "kind": kind, "old": old.value, "new": row.value, "model_version": model_version, "source": source,
        "report_id": report_id})
    return row


def request_retrain() -> None:
    """Ask for a classifier retrain; requests arriving while one waits coalesce into it."""
    def _enqueue():
        from recognition.tasks import retrain_classifier

        try:
            with transaction.atomic():
                version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING)
        except IntegrityError:
            return  # one is already waiting: it will see these changes too
        try:
            retrain_classifier.apply_async(args=[version.pk], countdown=settings.FACEREC_RETRAIN_DELAY_S)
        except Exception:
            # Broker unreachable: drop the waiting row, or every later request would
            # coalesce into a retrain that never runs; the next approval asks again.
            log.warning("retrain not queued (broker unreachable?)", exc_info=True)
            ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING).delete()

    transaction.on_commit(_enqueue)


def request_retrain_now(model_version: str | None = None) -> ClassifierVersion | None:
    """Queue a retrain now (outside a request), for the serving model or `model_version`."""
    from recognition.tasks import retrain_classifier

    try:
        with transaction.atomic():
            version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING,
                                                       model_version=model_version or "")
    except IntegrityError:
        return None  # one is waiting already
    retrain_classifier.apply_async(args=[version.pk], countdown=settings.FACEREC_RETRAIN_DELAY_S)
    return version


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
    model_version = version.model_version or current_model_version()
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
        # Current per model version; a SKIPPED version is current too: it tells
        # identification to use nearest neighbours alone.
        ClassifierVersion.objects.filter(current=True, model_version=model_version).update(current=False)
        version.current = True
    version.save()
    audit.record(action="classifier.retrain", target=version,
                 details={"status": status, "identities": version.n_identities, "samples": version.n_samples,
                          "validation_accuracy": version.validation_accuracy})
    return version


# --- identification and verification ------------------------------------------------


def _domain_error(message: str, *, code: str, status: int = 400, field: str | None = None):
    from identities.errors import DomainError

    return DomainError(message, code=code, field=field, status=status)


@dataclass
class Candidate:
    identity_id: int
    display_name: str
    score: float  # what the open-set threshold is applied to
    similarity: float  # cosine similarity to the identity's closest template
    probability: float | None  # SVM probability, None without a classifier


@dataclass
class IdentifiedFace:
    box: list[float]
    detection_probability: float
    identity_id: int | None  # None: unknown
    label: str
    score: float | None
    candidates: list[Candidate]


@dataclass
class IdentifyResult:
    faces: list[IdentifiedFace]
    threshold: float
    threshold_source: str  # "request", the default setting, or the applied value's origin
    model_version: str
    classifier_version: int | None
    method: str  # "svm+nearest-neighbours" or "nearest-neighbours"
    image_size: tuple[int, int]


@dataclass
class VerifyResult:
    similarity: float
    match: bool
    threshold: float
    threshold_source: str
    model_version: str
    faces: list[list[float]]  # the face box compared in each image
    identity_id: int | None = None
    templates_compared: int | None = None


@functools.lru_cache(maxsize=4)
def _load_classifier(artifact_dir: str):
    from recognition.pipeline.classifier import FaceClassifier

    return FaceClassifier.load(Path(artifact_dir))


def decode_probe(data: bytes, *, field: str = "image") -> np.ndarray:
    """Probe bytes -> RGB array, or a clear 400/413 error. Probes are never stored."""
    from recognition.pipeline.errors import ImageRejected
    from recognition.runtime import decode_image

    try:
        return decode_image(data)
    except ImageRejected as exc:
        raise _domain_error(exc.detail, code=exc.reason, status=413 if exc.reason == "too_large" else 400,
                            field=field)


def combined_score(similarity: float, probability: float | None) -> float:
    """Nearest-template cosine similarity, discounted by the SVM's disbelief.

    With p = 1 the score is the similarity itself, so one threshold serves both; a
    candidate the SVM gives p = 0 keeps half its similarity. Strangers rarely have a
    close template *and* a confident SVM, so they fall below the threshold.
    """
    return similarity if probability is None else similarity * (1.0 + probability) / 2.0


def identify(*, image: np.ndarray, top_k: int = 5, threshold: float | None = None, actor=None) -> IdentifyResult:
    """1:N, open set: every face in the image with its ranked candidates, or `unknown`."""
    from identities.models import Identity
    from recognition import selectors
    from recognition.runtime import get_pipeline

    pipeline = get_pipeline()
    faces = pipeline.process([image], select="all")[0]
    model_version = pipeline.embedder.model_info.version
    threshold, source = _threshold(RecognitionThreshold.Kind.IDENTIFY, threshold, model_version)
    classifier_row = selectors.current_classifier(model_version)
    classifier = None
    if classifier_row is not None and classifier_row.status == ClassifierVersion.Status.READY:
        classifier = _load_classifier(classifier_row.artifact_dir)
    probabilities = (classifier.proba_by_label(np.stack([f.embedding for f in faces]))
                     if classifier is not None and faces else None)

    results: list[IdentifiedFace] = []
    for index, face in enumerate(faces):
        neighbours = selectors.nearest_identities(face.embedding, model_version=model_version,
                                                  limit=max(top_k, 5))
        p_of = {int(label): p for label, p in probabilities[index].items()} if probabilities else {}
        candidates = []
        for n in neighbours:
            # Someone approved after the last training has no SVM probability yet: their
            # similarity alone counts until the retrain finishes.
            p = p_of.get(n.identity_id)
            candidates.append(Candidate(identity_id=n.identity_id, display_name="",
                                        similarity=round(n.similarity, 4),
                                        probability=None if p is None else round(p, 4),
                                        score=round(combined_score(n.similarity, p), 4)))
        candidates.sort(key=lambda c: -c.score)
        candidates = candidates[:top_k]
        names = dict(Identity.objects.filter(pk__in=[c.identity_id for c in candidates])
                     .values_list("pk", "display_name"))
        for c in candidates:
            c.display_name = names.get(c.identity_id, "")
        best = candidates[0] if candidates else None
        known = best is not None and best.score >= threshold
        results.append(IdentifiedFace(
            box=[round(v, 1) for v in face.detection.box], detection_probability=round(face.detection.probability, 4),
            identity_id=best.identity_id if known else None, label=best.display_name if known else "unknown",
            score=best.score if best else None, candidates=candidates))
    result = IdentifyResult(
        faces=results, threshold=threshold, threshold_source=source, model_version=model_version,
        classifier_version=classifier_row.pk if classifier is not None else None,
        method="svm+nearest-neighbours" if classifier is not None else "nearest-neighbours",
        image_size=(int(image.shape[1]), int(image.shape[0])))
    # An identified face is its first candidate's identity.
    record_match_scores([(f.identity_id, f.candidates[0].similarity) for f in results if f.identity_id is not None],
                        kind="identify", model_version=model_version)
    audit.record(action="recognition.identify", actor=actor, details={
        "faces": len(results), "identified": [f.identity_id for f in results if f.identity_id is not None],
        "unknown": sum(f.identity_id is None for f in results), "threshold": threshold,
        "classifier_version": result.classifier_version})
    return result


def record_match_scores(matches: list[tuple[int, float]], *, kind: str, model_version: str) -> None:
    """Keep the similarity of each successful match (score only) for drift monitoring: one insert."""
    MatchScore.objects.bulk_create([MatchScore(identity_id=identity_id, similarity=float(similarity), kind=kind,
                                               model_version=model_version) for identity_id, similarity in matches])


def _single_face(image: np.ndarray, field: str):
    from recognition.runtime import get_pipeline

    faces = get_pipeline().process([image], select="largest")[0]
    if not faces:
        raise _domain_error("no face was found in this image", code="no_face", field=field)
    return faces[0]


def _threshold(kind: str, threshold: float | None, model_version: str) -> tuple[float, str]:
    """The request's threshold, else the one in force for the serving model; and where it came from."""
    from recognition.selectors import current_threshold

    if threshold is not None:
        return threshold, "request"
    in_use = current_threshold(kind, model_version=model_version)
    return in_use.value, in_use.source


def _verify_threshold(threshold: float | None, model_version: str) -> tuple[float, str]:
    return _threshold(RecognitionThreshold.Kind.VERIFY, threshold, model_version)


def verify_images(*, image_a: np.ndarray, image_b: np.ndarray, threshold: float | None = None,
                  actor=None) -> VerifyResult:
    """1:1: are the (largest) faces of two photos the same person?"""
    from recognition.runtime import get_pipeline

    face_a, face_b = _single_face(image_a, "image_a"), _single_face(image_b, "image_b")
    similarity = float(np.dot(face_a.embedding, face_b.embedding))
    model_version = get_pipeline().embedder.model_info.version
    threshold, source = _verify_threshold(threshold, model_version)
    result = VerifyResult(similarity=round(similarity, 4), match=similarity >= threshold, threshold=threshold,
                          threshold_source=source, model_version=model_version,
                          faces=[[round(v, 1) for v in f.detection.box] for f in (face_a, face_b)])
    audit.record(action="recognition.verify", actor=actor,
                 details={"mode": "two-images", "similarity": result.similarity, "match": result.match,
                          "threshold": threshold})
    return result


def verify_identity(*, image: np.ndarray, identity, threshold: float | None = None, actor=None) -> VerifyResult:
    """1:1: is the (largest) face in the photo the claimed identity (closest active template)?"""
    from recognition import selectors
    from recognition.runtime import get_pipeline

    if identity.status != "active":
        raise _domain_error(f"identity #{identity.pk} was erased", code="identity_erased", status=410,
                            field="identity_id")
    face = _single_face(image, "image")
    model_version = get_pipeline().embedder.model_info.version
    found = selectors.identity_similarity(face.embedding, identity_id=identity.pk, model_version=model_version)
    if found is None:
        raise _domain_error(f"identity #{identity.pk} has no approved templates to compare with",
                            code="no_templates", status=409, field="identity_id")
    similarity, count = found
    threshold, source = _verify_threshold(threshold, model_version)
    result = VerifyResult(similarity=round(similarity, 4), match=similarity >= threshold, threshold=threshold,
                          threshold_source=source, model_version=model_version,
                          faces=[[round(v, 1) for v in face.detection.box]], identity_id=identity.pk,
                          templates_compared=count)
    if result.match:
        record_match_scores([(identity.pk, similarity)], kind="verify", model_version=model_version)
    audit.record(action="recognition.verify", actor=actor, target=identity,
                 details={"mode": "identity", "similarity": result.similarity, "match": result.match,
                          "threshold": threshold})
    return result


# --- re-embedding after a model change ---------------------------------------------


def reembed_batch(*, batch_size: int = 64, weights: str | None = None) -> dict[str, int | str]:
    """Embed the next `batch_size` approved/awaiting photos lacking an embedding of `weights`.

    `weights` defaults to the serving FACEREC_WEIGHTS; a model change passes the next
    weights, so their templates fill in while the current ones keep serving.
    Idempotent and resumable: it only looks for what is missing. Returns what it did
    and how many are left; the caller (a task) repeats until nothing is left.
    """
    from identities.models import EnrollmentImage
    from recognition.runtime import get_pipeline_for, read_image_file

    pipeline = get_pipeline_for(weights or settings.FACEREC_WEIGHTS)
    info = pipeline.embedder.model_info
    todo = (EnrollmentImage.objects.filter(status__in=["approved", "awaiting_review"], identity__status="active")
            .exclude(embeddings__model_version=info.version).order_by("pk"))
    batch = list(todo[:batch_size])
    done = failed = 0
    for image in batch:
        try:
            pixels = read_image_file(image.file)
        except Exception:
            failed += 1
            continue
        if image.face_box:
            from recognition.pipeline.detection import Detection

            # Same face as reviewed: crop the stored box instead of detecting again.
            x1, y1, x2, y2 = image.face_box
            detection = Detection(box=(x1, y1, x2, y2), probability=image.detection_probability or 0.0,
                                  landmarks=tuple(((x1 + x2) / 2, (y1 + y2) / 2) for _ in range(5)))
        else:
            faces = pipeline.detector.detect(pixels)
            if not faces:
                failed += 1
                continue
            detection = faces[0]
        vector = pipeline.embedder.embed(pipeline.crop(pixels, detection)[None])[0]
        store_embedding(image=image, vector=vector, model_name=info.name, model_version=info.version)
        done += 1
    remaining = max(todo.count() - failed, 0)
    return {"model_version": info.version, "embedded": done, "failed": failed, "remaining": remaining}
