"""Writes of the recognition side: templates, classifier versions, applied thresholds; identify and verify."""

from __future__ import annotations

import functools
import logging
import math
import numbers
import shutil
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit import services as audit
from core.tasks import send_task
from recognition.models import EMBEDDING_DIM, ClassifierVersion, FaceEmbedding, MatchScore, RecognitionThreshold

log = logging.getLogger(__name__)


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
                  "model_name": model_name, "active": image.status == "approved"},
    )
    return embedding


def possible_duplicate(vector: np.ndarray, *, model_version: str, exclude_identity_id: int) -> dict | None:
    """The closest other identity, when identify would answer it for this photo (its threshold, its score)."""
    from recognition.selectors import active_template_count, current_threshold, nearest_identities, scorer

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


def request_retrain(*, urgent: bool = False) -> None:
    """Ask for a classifier retrain, after the current transaction commits.

    Requests coalesce into the one waiting retrain, which runs once they have paused
    for FACEREC_RETRAIN_DELAY_S (at the latest FACEREC_RETRAIN_MAX_WAIT_S after the
    first): a bulk enrollment trains once, not once per approval. `urgent` (an
    erasure) trains at once and from scratch, so no model keeps what was erased.
    """
    transaction.on_commit(lambda: _enqueue_retrain(model_version="", urgent=urgent))


def request_retrain_now(model_version: str | None = None) -> ClassifierVersion | None:
    """Queue a retrain now (outside a request), for the serving model or `model_version`."""
    return _enqueue_retrain(model_version=model_version or "", urgent=True)


def _enqueue_retrain(*, model_version: str, urgent: bool) -> ClassifierVersion | None:
    from recognition.tasks import retrain_classifier

    now = timezone.now()
    try:
        with transaction.atomic():
            version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING,
                                                       model_version=model_version, last_requested_at=now,
                                                       urgent=urgent)
        created = True
    except IntegrityError:
        # One is waiting already: it will see these changes too; push its quiet period back.
        version = ClassifierVersion.objects.filter(status=ClassifierVersion.Status.PENDING).first()
        if version is None:  # it started training in between: ask again
            return _enqueue_retrain(model_version=model_version, urgent=urgent)
        updates = {"last_requested_at": now}
        if urgent:
            updates["urgent"] = True
        ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING).update(**updates)
        created = False
        # A waiting row whose task was lost (broker restart) would swallow every request: re-send it.
        lost = version.requested_at < now - timedelta(seconds=2 * settings.FACEREC_RETRAIN_MAX_WAIT_S + 60)
        if not (urgent or lost):
            return version
    if not send_task(retrain_classifier, [version.pk], countdown=0 if urgent else settings.FACEREC_RETRAIN_DELAY_S):
        # Broker unreachable: drop the waiting row, or every later request would
        # coalesce into a retrain that never runs; the next approval asks again.
        if created:
            ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING).delete()
        return None
    return version


def current_model_version() -> str:
    from recognition.runtime import get_embedder

    return get_embedder().model_info.version


def _defer(version: ClassifierVersion) -> bool:
    """Still inside the quiet period: send the task again for when it ends (one sender per deferral)."""
    from recognition.tasks import retrain_classifier

    if version.urgent:
        return False
    now = timezone.now()
    quiet_until = (version.last_requested_at or version.requested_at) + timedelta(
        seconds=settings.FACEREC_RETRAIN_DELAY_S)
    deadline = version.requested_at + timedelta(seconds=settings.FACEREC_RETRAIN_MAX_WAIT_S)
    wait_s = (min(quiet_until, deadline) - now).total_seconds()
    if wait_s <= 0.5:
        return False
    if ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING,
                                        deferrals=version.deferrals).update(deferrals=version.deferrals + 1):
        retrain_classifier.apply_async(args=[version.pk], countdown=wait_s)
    return True


def _template_rows(model_version: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Active templates of active identities: (template ids, identity labels, vectors), read in one pass."""
    from recognition.selectors import active_templates

    rows = active_templates(model_version).order_by("pk").values_list("pk", "identity_id", "vector")
    ids, labels, vectors = [], [], []
    for pk, identity_id, vector in rows.iterator(chunk_size=5000):
        ids.append(pk)
        labels.append(str(identity_id))
        vectors.append(np.asarray(vector, dtype=np.float32))
    X = np.stack(vectors) if vectors else np.zeros((0, EMBEDDING_DIM), np.float32)
    return np.array(ids, dtype=np.int64), np.array(labels), X


def retrain(version_id: int) -> ClassifierVersion | None:
    """Train on the active templates; the version becomes current only when training finished.

    Incremental when the current classifier of the model version can be reused (only the
    identities whose templates changed are refitted), from scratch after an erasure.
    Superseded artifacts are deleted once the new version is current.
    """
    from identities.models import Identity
    from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities

    version = ClassifierVersion.objects.filter(pk=version_id, status=ClassifierVersion.Status.PENDING).first()
    if version is None or _defer(version):
        return None
    claimed = ClassifierVersion.objects.filter(pk=version_id, status=ClassifierVersion.Status.PENDING).update(
        status=ClassifierVersion.Status.TRAINING, started_at=timezone.now())
    if not claimed:
        return None
    version = ClassifierVersion.objects.get(pk=version_id)
    model_version = version.model_version or current_model_version()
    started = time.monotonic()
    out_dir = Path(settings.FACEREC_CLASSIFIERS_DIR) / f"v{version.pk}"
    n_rows = 0
    try:
        keys, labels, X = _template_rows(model_version)
        n_rows = len(keys)
        previous = None if version.urgent else _reusable_classifier(model_version)
        model = FaceClassifier(min_samples_per_class=settings.FACEREC_MIN_PHOTOS_PER_IDENTITY)
        model.fit(X, labels, keys=keys, model_version=model_version, previous=previous)
        # Someone erased while this trained (the scrub found no artifact to clean yet) leaves with it.
        erased = Identity.objects.filter(status=Identity.Status.ERASED, updated_at__gte=version.started_at)
        model.without_labels([str(pk) for pk in erased.values_list("pk", flat=True)])
        model.save(out_dir)
    except NotEnoughIdentities as exc:
        return _finish(version, ClassifierVersion.Status.SKIPPED, model_version, error=str(exc), n_samples=n_rows)
    except Exception:
        shutil.rmtree(out_dir, ignore_errors=True)
        return _finish(version, ClassifierVersion.Status.FAILED, model_version, error=traceback.format_exc()[-2000:],
                       n_samples=n_rows)
    meta = model.metadata_
    return _finish(version, ClassifierVersion.Status.READY, model_version, artifact_dir=str(out_dir),
                   kernel=meta.kernel, n_identities=meta.n_classes, n_samples=meta.n_samples,
                   validation_accuracy=meta.validation_accuracy, training_seconds=time.monotonic() - started,
                   refitted=meta.refitted)


def _reusable_classifier(model_version: str):
    from recognition.selectors import current_classifier

    row = current_classifier(model_version)
    if row is None or row.status != ClassifierVersion.Status.READY or not row.artifact_dir:
        return None
    try:
        return _load_classifier(row.artifact_dir)
    except Exception:  # an older format or a missing file: train from scratch
        log.info("classifier v%s not reusable; training from scratch", row.pk, exc_info=True)
        return None


@transaction.atomic
def _finish(version: ClassifierVersion, status: str, model_version: str, **fields) -> ClassifierVersion:
    """Switch `current` atomically: readers see the old version or the new one, never none."""
    version = ClassifierVersion.objects.select_for_update().get(pk=version.pk)
    version.status, version.model_version, version.finished_at = status, model_version, timezone.now()
    for name, value in fields.items():
        setattr(version, name, value)
    finished = status in (ClassifierVersion.Status.READY, ClassifierVersion.Status.SKIPPED)
    # A training that started before a newer one (say, the urgent retrain after an erasure)
    # but ends after it read older templates: it must not replace the newer version.
    stale = ClassifierVersion.objects.filter(
        model_version=model_version, pk__gt=version.pk,
        status__in=[ClassifierVersion.Status.READY, ClassifierVersion.Status.SKIPPED]).exists()
    if finished and not stale:
        # Current per model version; a SKIPPED version is current too: it tells
        # identification to use nearest neighbours alone.
        ClassifierVersion.objects.filter(current=True, model_version=model_version).update(current=False)
        version.current = True
    version.save()
    if finished:  # the files of whichever versions are not current go (a stale one's own too)
        transaction.on_commit(lambda: delete_superseded_artifacts(model_version))
    audit.record(action="classifier.retrain", target=version,
                 details={"status": status, "identities": version.n_identities, "samples": version.n_samples,
                          "validation_accuracy": version.validation_accuracy, "refitted": fields.get("refitted")})
    return version


def delete_superseded_artifacts(model_version: str) -> int:
    """Delete the files of every classifier of `model_version` but the current one: they hold
    weights learnt from templates that may since have been erased."""
    superseded = (ClassifierVersion.objects.filter(model_version=model_version, current=False)
                  .exclude(artifact_dir="").exclude(status=ClassifierVersion.Status.TRAINING))
    deleted = 0
    for row in superseded:
        shutil.rmtree(row.artifact_dir, ignore_errors=True)
        deleted += ClassifierVersion.objects.filter(pk=row.pk).update(artifact_dir="")
    _forget_loaded_classifiers()
    return deleted


def scrub_identity_from_classifiers(identity_id: int) -> int:
    """Remove an erased identity's row (weights and label) from every stored classifier at once,
    before the urgent retrain replaces them: no artifact names it even if that retrain fails."""
    from recognition.pipeline.classifier import FaceClassifier

    scrubbed = 0
    for row in ClassifierVersion.objects.exclude(artifact_dir=""):
        try:
            model = FaceClassifier.load(Path(row.artifact_dir))
        except Exception:
            # Unreadable (an older format): it cannot serve either, so it goes.
            shutil.rmtree(row.artifact_dir, ignore_errors=True)
            ClassifierVersion.objects.filter(pk=row.pk).update(artifact_dir="")
            continue
        if model.without_labels([str(identity_id)]):
            model.save_atomic(Path(row.artifact_dir))
            scrubbed += 1
    _forget_loaded_classifiers()
    return scrubbed


# --- identification and verification ------------------------------------------------


def _domain_error(message: str, *, code: str, status: int = 400, field: str | None = None):
    from core.errors import DomainError

    return DomainError(message, code=code, field=field, status=status)


@dataclass
class Candidate:
    identity_id: int
    display_name: str
    score: float  # what the open-set threshold is applied to (calibrated for the gallery's size)
    similarity: float  # cosine similarity to the identity's closest template
    probability: float | None  # SVM probability among the candidates, None when it does not know them


@dataclass
class IdentifiedFace:
    box: list[float]
    detection_probability: float
    identity_id: int | None  # None: unknown
    label: str
    score: float | None
    candidates: list[Candidate]  # by score, best first: the first is the answer when identified
    # "score+classifier" when the classifier knew every candidate and had a say, else "score".
    decided_by: str = "score"
    # Why the face is `unknown`: below_threshold, classifier_disagrees, empty_gallery or liveness_failed.
    reason: str | None = None
    liveness: dict | None = None  # {"score", "is_live"}; None with the liveness policy off


@dataclass
class IdentifyResult:
    faces: list[IdentifiedFace]
    threshold: float
    threshold_source: str  # "request", the default, or the applied value's origin
    model_version: str
    classifier_version: int | None
    method: str  # "svm+nearest-neighbours" or "nearest-neighbours"
    image_size: tuple[int, int]
    templates_searched: int = 0
    liveness_policy: str = "off"


@dataclass
class VerifyResult:
    similarity: float
    match: bool
    threshold: float
    threshold_source: str
    model_version: str
    faces: list[list[float]]  # the face box compared in each image
    score: float = 0.0  # what the threshold is applied to
    identity_id: int | None = None
    templates_compared: int | None = None
    reason: str | None = None  # why it is no match: below_threshold or liveness_failed
    liveness: list[dict | None] | None = None  # per face compared, as `faces`
    liveness_policy: str = "off"


def _load_classifier(artifact_dir: str):
    """The classifier of an artifact folder, loaded once per process and again when its files change."""
    stamp = (Path(artifact_dir) / "classifier.json").stat().st_mtime_ns
    return _load_classifier_files(artifact_dir, stamp)


@functools.lru_cache(maxsize=4)
def _load_classifier_files(artifact_dir: str, stamp: int):
    from recognition.pipeline.classifier import FaceClassifier

    return FaceClassifier.load(Path(artifact_dir))


def _forget_loaded_classifiers() -> None:
    _load_classifier_files.cache_clear()


# --- liveness (presentation-attack detection) -------------------------------------


def liveness_policy(requested: str | None = None) -> str:
    """The request's policy when it names one (callers with `choose_liveness`), else FACEREC_LIVENESS."""
    return requested or settings.FACEREC_LIVENESS


def check_liveness(image: np.ndarray, detections, *, policy: str) -> list[dict | None]:
    """{"score", "is_live"} for each detected face, or None each with the policy off.

    Missing weights: `report` goes on without the figure (logged), `enforce` refuses (503),
    since answering without the check it promises would let an attack through.
    """
    if policy == "off" or not detections:
        return [None] * len(detections)
    from recognition.pipeline.liveness import LivenessWeightsUnavailable
    from recognition.runtime import get_liveness_checker

    try:
        results = get_liveness_checker().check(image, detections)
    except LivenessWeightsUnavailable as exc:
        if policy == "enforce":
            raise _domain_error(f"the liveness check is unavailable: {exc}", code="liveness_unavailable",
                                status=503) from None
        log.warning("liveness not checked: %s", exc)
        return [None] * len(detections)
    return [{"score": round(r.score, 4), "is_live": r.is_live} for r in results]


def failed_liveness(liveness: dict | None, policy: str) -> bool:
    return policy == "enforce" and liveness is not None and not liveness["is_live"]


def _liveness_audit(liveness: list[dict | None], policy: str) -> dict:
    return {"liveness_policy": policy, "liveness": liveness if policy != "off" else None}


def decode_probe(data: bytes, *, field: str = "image") -> np.ndarray:
    """Probe bytes -> RGB array, or a clear 400/413 error. Probes are never stored."""
    from recognition.pipeline.errors import ImageRejected
    from recognition.runtime import decode_image

    try:
        return decode_image(data)
    except ImageRejected as exc:
        raise _domain_error(exc.detail, code=exc.reason, status=413 if exc.reason == "too_large" else 400,
                            field=field)


@dataclass
class Gallery:
    """What one identify call searches: the serving model's templates and its current classifier."""

    model_version: str
    templates: int  # active templates: a stranger meets every one of them
    classifier_row: ClassifierVersion | None
    classifier: object | None  # FaceClassifier, or None (missing, training, too few identities)

    @classmethod
    def current(cls, model_version: str) -> Gallery:
        from recognition import selectors

        row = selectors.current_classifier(model_version)
        classifier = None
        if row is not None and row.status == ClassifierVersion.Status.READY and row.artifact_dir:
            try:
                classifier = _load_classifier(row.artifact_dir)
            except OSError:  # superseded and deleted meanwhile: similarity alone
                log.warning("classifier v%s unreadable; identifying by similarity", row.pk, exc_info=True)
            except ValueError:  # trained by an older release (another format): replace it
                log.warning("classifier v%s has an older format; identifying by similarity until it is "
                            "retrained", row.pk)
                if not ClassifierVersion.objects.filter(status__in=[ClassifierVersion.Status.PENDING,
                                                                    ClassifierVersion.Status.TRAINING]).exists():
                    request_retrain_now(model_version)
        return cls(model_version=model_version, templates=selectors.active_template_count(model_version),
                   classifier_row=row if classifier is not None else None, classifier=classifier)


def identify_embedding(embedding: np.ndarray, *, gallery: Gallery, top_k: int, threshold: float
                       ) -> tuple[list[Candidate], str, str | None]:
    """Search, classifier and open-set decision for one face: (candidates by score, decided_by, the reason
    it is unknown or None when the first candidate is the person)."""
    from recognition import selectors
    from recognition.pipeline.open_set import DECIDED_BY_SCORE, EMPTY_GALLERY, identify_among

    neighbours = selectors.nearest_identities(embedding, model_version=gallery.model_version,
                                              limit=max(top_k, 5))
    if not neighbours:
        return [], DECIDED_BY_SCORE, EMPTY_GALLERY
    answer = identify_among(embedding, [str(n.identity_id) for n in neighbours],
                            np.array([n.score_similarity for n in neighbours]), comparisons=gallery.templates,
                            scorer=selectors.scorer(gallery.model_version), classifier=gallery.classifier)
    p = answer.probabilities
    candidates = [Candidate(identity_id=neighbours[i].identity_id, display_name="",
                            similarity=round(neighbours[i].similarity, 4),
                            probability=None if p is None or np.isnan(p[i]) else round(float(p[i]), 4),
                            score=round(float(answer.scores[i]), 4))
                  for i in answer.order[:top_k]]
    return candidates, answer.decided_by, answer.reason(threshold)


def identify(*, image: np.ndarray, top_k: int = 5, threshold: float | None = None, actor=None,
             liveness: str | None = None, visible_to=None) -> IdentifyResult:
    """1:N, open set: every face in the image with its ranked candidates, or `unknown`.

    With the liveness policy `enforce`, a face that fails the check is not searched at all:
    it is `unknown` with reason `liveness_failed` and no candidates. `visible_to` (the caller):
    besides the answer itself, only candidates that user may read are listed, so identify
    never lists the gallery to someone who may not see it (an api_client sees answers only).
    """
    from identities.models import Identity
    from recognition.runtime import get_pipeline

    pipeline = get_pipeline()
    faces = pipeline.process([image], select="all")[0]
    model_version = pipeline.embedder.model_info.version
    threshold, source = _threshold(RecognitionThreshold.Kind.IDENTIFY, threshold, model_version)
    policy = liveness_policy(liveness)
    live = check_liveness(image, [f.detection for f in faces], policy=policy)
    gallery = Gallery.current(model_version)

    results: list[IdentifiedFace] = []
    for face, face_liveness in zip(faces, live):
        box = [round(v, 1) for v in face.detection.box]
        if failed_liveness(face_liveness, policy):
            results.append(IdentifiedFace(box=box, detection_probability=round(face.detection.probability, 4),
                                          identity_id=None, label="unknown", score=None, candidates=[],
                                          reason="liveness_failed", liveness=face_liveness))
            continue
        candidates, decided_by, reason = identify_embedding(face.embedding, gallery=gallery, top_k=top_k,
                                                            threshold=threshold)
        known = reason is None
        names = dict(Identity.objects.filter(pk__in=[c.identity_id for c in candidates])
                     .values_list("pk", "display_name"))
        for c in candidates:
            c.display_name = names.get(c.identity_id, "")
        best = candidates[0] if candidates else None
        results.append(IdentifiedFace(
            box=box, detection_probability=round(face.detection.probability, 4),
            identity_id=best.identity_id if known else None, label=best.display_name if known else "unknown",
            score=best.score if best else None, candidates=candidates, decided_by=decided_by, reason=reason,
            liveness=face_liveness))
    if visible_to is not None:
        _hide_unreadable_candidates(results, visible_to)
    used_svm = any(f.decided_by == "score+classifier" for f in results)
    result = IdentifyResult(
        faces=results, threshold=threshold, threshold_source=source, model_version=model_version,
        classifier_version=gallery.classifier_row.pk if gallery.classifier is not None else None,
        method="svm+nearest-neighbours" if used_svm or (gallery.classifier is not None and not results)
        else "nearest-neighbours",
        image_size=(int(image.shape[1]), int(image.shape[0])), templates_searched=gallery.templates,
        liveness_policy=policy)
    # An identified face is its first candidate's identity.
    record_match_scores([(f.identity_id, f.candidates[0].similarity) for f in results if f.identity_id is not None],
                        kind="identify", model_version=model_version)
    audit.record(action="recognition.identify", actor=actor, details={
        "faces": len(results), "identified": [f.identity_id for f in results if f.identity_id is not None],
        "unknown": sum(f.identity_id is None for f in results), "threshold": threshold,
        "classifier_version": result.classifier_version, **_liveness_audit(live, policy)})
    return result


def _hide_unreadable_candidates(faces: list[IdentifiedFace], user) -> None:
    from identities.models import Identity
    from identities.selectors import visible_identities

    listed = {c.identity_id for face in faces for c in face.candidates}
    readable = set(visible_identities(user, Identity.objects.filter(pk__in=listed))
                   .values_list("pk", flat=True))
    for face in faces:
        face.candidates = [c for c in face.candidates if c.identity_id in readable or c.identity_id == face.identity_id]


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


def _verdict(score: float, threshold: float, liveness: list[dict | None], policy: str) -> tuple[bool, str | None]:
    """match, and the reason when it is none; with `enforce`, every face compared must be live."""
    if any(failed_liveness(item, policy) for item in liveness):
        return False, "liveness_failed"
    return (True, None) if score >= threshold else (False, "below_threshold")


def verify_images(*, image_a: np.ndarray, image_b: np.ndarray, threshold: float | None = None,
                  actor=None, liveness: str | None = None) -> VerifyResult:
    """1:1: are the (largest) faces of two photos the same person?"""
    from recognition.runtime import get_pipeline
    from recognition.selectors import scorer

    face_a, face_b = _single_face(image_a, "image_a"), _single_face(image_b, "image_b")
    similarity = float(np.dot(face_a.embedding, face_b.embedding))
    model_version = get_pipeline().embedder.model_info.version
    projected = scorer(model_version).project(np.stack([face_a.embedding, face_b.embedding]))
    score = round(float(projected[0] @ projected[1]), 4)  # one comparison: the calibrated similarity itself
    threshold, source = _verify_threshold(threshold, model_version)
    policy = liveness_policy(liveness)
    live = (check_liveness(image_a, [face_a.detection], policy=policy)
            + check_liveness(image_b, [face_b.detection], policy=policy))
    match, reason = _verdict(score, threshold, live, policy)
    result = VerifyResult(similarity=round(similarity, 4), score=score, match=match, reason=reason,
                          threshold=threshold, threshold_source=source, model_version=model_version,
                          faces=[[round(v, 1) for v in f.detection.box] for f in (face_a, face_b)],
                          liveness=live, liveness_policy=policy)
    audit.record(action="recognition.verify", actor=actor,
                 details={"mode": "two-images", "similarity": result.similarity, "score": score,
                          "match": result.match, "reason": reason, "threshold": threshold,
                          **_liveness_audit(live, policy)})
    return result


def verify_identity(*, image: np.ndarray, identity, threshold: float | None = None, actor=None,
                    liveness: str | None = None) -> VerifyResult:
    """1:1: is the (largest) face in the photo the claimed identity?

    The best of the person's templates is scored for the number compared: an impostor
    meets each of them, so the same threshold means the same FAR for 1 or 10 templates.
    """
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
    similarity, projected, count = found
    score = round(float(selectors.scorer(model_version).score(projected, count)), 4)
    threshold, source = _verify_threshold(threshold, model_version)
    policy = liveness_policy(liveness)
    live = check_liveness(image, [face.detection], policy=policy)
    match, reason = _verdict(score, threshold, live, policy)
    result = VerifyResult(similarity=round(similarity, 4), score=score, match=match, reason=reason,
                          threshold=threshold, threshold_source=source, model_version=model_version,
                          faces=[[round(v, 1) for v in face.detection.box]], identity_id=identity.pk,
                          templates_compared=count, liveness=live, liveness_policy=policy)
    if result.match:
        record_match_scores([(identity.pk, similarity)], kind="verify", model_version=model_version)
    audit.record(action="recognition.verify", actor=actor, target=identity,
                 details={"mode": "identity", "similarity": result.similarity, "score": score,
                          "match": result.match, "reason": reason, "threshold": threshold,
                          **_liveness_audit(live, policy)})
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
