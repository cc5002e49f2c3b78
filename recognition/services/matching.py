"""Identify (1:N, open set) and verify (1:1) on decoded probes, with the liveness policy applied;
probes are decoded in memory and never stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction

from audit import services as audit
from core.errors import IdentityErased, LivenessUnavailable, NoFace, NoTemplates, PhotoRejected
from identities.models import Identity
from recognition import metrics, selectors
from recognition.models import MatchScore, RecognitionThreshold
from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.faces import Face, select_faces
from recognition.pipeline.liveness import LivenessWeightsUnavailable
from recognition.pipeline.open_set import (
    BELOW_THRESHOLD,
    DECIDED_BY_SCORE,
    DECIDED_BY_SCORE_AND_CLASSIFIER,
    EMPTY_GALLERY,
    identify_among,
)
from recognition.runtime import decode_image, get_liveness_checker, get_pipeline
from recognition.selectors import Gallery
from recognition.services.training import request_retrain_now
from webhooks.services import emit

log = logging.getLogger(__name__)

LIVENESS_FAILED = "liveness_failed"  # why a face is unknown, or a verify no match, under `enforce`


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
    decided_by: str = DECIDED_BY_SCORE
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


# --- probes and liveness (presentation-attack detection) ----------------------------


def decode_probe(data: bytes, *, field: str = "image") -> np.ndarray:
    """Probe bytes -> RGB array, or a clear 400/413 error. Probes are never stored."""
    try:
        with metrics.stage("probe", "decode"):
            return decode_image(data)
    except ImageRejected as exc:
        raise PhotoRejected.from_image_rejected(exc, field=field) from None


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
    try:
        results = get_liveness_checker().check(image, detections)
    except LivenessWeightsUnavailable as exc:
        if policy == "enforce":
            raise LivenessUnavailable(f"the liveness check is unavailable: {exc}") from None
        log.warning("liveness not checked: %s", exc)
        return [None] * len(detections)
    return [{"score": round(r.score, 4), "is_live": r.is_live} for r in results]


def failed_liveness(liveness: dict | None, policy: str) -> bool:
    return policy == "enforce" and liveness is not None and not liveness["is_live"]


def _liveness_audit(liveness: list[dict | None], policy: str) -> dict:
    return {"liveness_policy": policy, "liveness": liveness if policy != "off" else None}


# --- identification (1:N) ------------------------------------------------------------


def current_gallery(model_version: str) -> Gallery:
    """The gallery identify searches; a classifier of an older format gets one replacement retrain."""
    gallery = selectors.serving_gallery(model_version)
    if gallery.outdated_classifier and not selectors.retrain_underway():
        request_retrain_now(model_version)
    return gallery


def identify_embedding(embedding: np.ndarray, *, gallery: Gallery, top_k: int, threshold: float
                       ) -> tuple[list[Candidate], str, str | None]:
    """Search, classifier and open-set decision for one face: (candidates by score, decided_by, the reason
    it is unknown or None when the first candidate is the person)."""
    with metrics.stage("identify", "search"):
        neighbours = selectors.nearest_identities(embedding, model_version=gallery.model_version,
                                                  limit=max(top_k, 5))
    if not neighbours:
        return [], DECIDED_BY_SCORE, EMPTY_GALLERY
    with metrics.stage("identify", "classify"):
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
    """1:N, open set (`identify_faces`), then recorded: match scores, one audit entry, webhook events."""
    result = identify_faces(image=image, top_k=top_k, threshold=threshold, liveness=liveness, visible_to=visible_to)
    record_identify(result, actor=actor)
    return result


def identify_faces(*, image: np.ndarray, top_k: int = 5, threshold: float | None = None,
                   liveness: str | None = None, visible_to=None) -> IdentifyResult:
    """1:N, open set: every face in the image with its ranked candidates, or `unknown`. Records nothing:
    `record_identify` does (identify calls both; the kiosk records only its stable decisions).

    With the liveness policy `enforce`, a face that fails the check is not searched at all:
    it is `unknown` with reason `liveness_failed` and no candidates. `visible_to` (the caller):
    besides the answer itself, only candidates that user may read are listed, so identify
    never lists the gallery to someone who may not see it (an api_client sees answers only).
    """
    pipeline = get_pipeline()
    with metrics.stage("identify", "detect"):
        detections = pipeline.detector.detect(image)
    with metrics.stage("identify", "embed"):
        faces = pipeline.embed_detections([image], [detections])[0]
    model_version = pipeline.embedder.model_info.version
    threshold, source = selectors.threshold_for(RecognitionThreshold.Kind.IDENTIFY, threshold, model_version)
    policy = liveness_policy(liveness)
    live = check_liveness(image, [f.detection for f in faces], policy=policy)
    gallery = current_gallery(model_version)

    results: list[IdentifiedFace] = []
    for face, face_liveness in zip(faces, live):
        box = [round(v, 1) for v in face.detection.box]
        if failed_liveness(face_liveness, policy):
            results.append(IdentifiedFace(box=box, detection_probability=round(face.detection.probability, 4),
                                          identity_id=None, label="unknown", score=None, candidates=[],
                                          reason=LIVENESS_FAILED, liveness=face_liveness))
            continue
        candidates, decided_by, reason = identify_embedding(face.embedding, gallery=gallery, top_k=top_k,
                                                            threshold=threshold)
        known = reason is None
        names = selectors.display_names(c.identity_id for c in candidates)
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
    used_svm = any(f.decided_by == DECIDED_BY_SCORE_AND_CLASSIFIER for f in results)
    result = IdentifyResult(
        faces=results, threshold=threshold, threshold_source=source, model_version=model_version,
        classifier_version=gallery.classifier_row.pk if gallery.classifier is not None else None,
        method="svm+nearest-neighbours" if used_svm or (gallery.classifier is not None and not results)
        else "nearest-neighbours",
        image_size=(int(image.shape[1]), int(image.shape[0])), templates_searched=gallery.templates,
        liveness_policy=policy)
    return result


def record_identify(result: IdentifyResult, *, actor=None, details: dict | None = None) -> None:
    """What an identify answer leaves behind: match scores for drift, one audit entry (`details` adds to it),
    the metrics and one webhook event per face."""
    faces = result.faces
    # The scores, the audit entry and the webhook events: one transaction, one commit.
    with transaction.atomic():
        # An identified face is its first candidate's identity.
        record_match_scores([(f.identity_id, f.candidates[0].similarity) for f in faces
                             if f.identity_id is not None], kind=MatchScore.Kind.IDENTIFY,
                            model_version=result.model_version)
        audit.record(action="recognition.identify", actor=actor, details={
            "faces": len(faces), "identified": [f.identity_id for f in faces if f.identity_id is not None],
            "unknown": sum(f.identity_id is None for f in faces), "threshold": result.threshold,
            "classifier_version": result.classifier_version,
            **_liveness_audit([f.liveness for f in faces], result.liveness_policy), **(details or {})})
        _emit_identify_events(faces, result.threshold)
    metrics.count_identify(faces)


def _hide_unreadable_candidates(faces: list[IdentifiedFace], user) -> None:
    readable = selectors.readable_identity_ids(user, {c.identity_id for face in faces for c in face.candidates})
    for face in faces:
        face.candidates = [c for c in face.candidates if c.identity_id in readable or c.identity_id == face.identity_id]


def record_match_scores(matches: list[tuple[int, float]], *, kind: str, model_version: str) -> None:
    """Keep the similarity of each successful match (score only) for drift monitoring: one insert."""
    MatchScore.objects.bulk_create([MatchScore(identity_id=identity_id, similarity=float(similarity), kind=kind,
                                               model_version=model_version) for identity_id, similarity in matches])


# --- verification (1:1) --------------------------------------------------------------


def _single_face(image: np.ndarray, field: str) -> Face:
    pipeline = get_pipeline()
    with metrics.stage("verify", "detect"):
        detections = select_faces(pipeline.detector.detect(image), image.shape, "largest")
    with metrics.stage("verify", "embed"):
        faces = pipeline.embed_detections([image], [detections])[0]
    if not faces:
        raise NoFace("no face was found in this image", field=field)
    return faces[0]


def _verdict(score: float, threshold: float, liveness: list[dict | None], policy: str) -> tuple[bool, str | None]:
    """match, and the reason when it is none; with `enforce`, every face compared must be live."""
    if any(failed_liveness(item, policy) for item in liveness):
        return False, LIVENESS_FAILED
    return (True, None) if score >= threshold else (False, BELOW_THRESHOLD)


def verify_images(*, image_a: np.ndarray, image_b: np.ndarray, threshold: float | None = None,
                  actor=None, liveness: str | None = None) -> VerifyResult:
    """1:1: are the (largest) faces of two photos the same person?"""
    face_a, face_b = _single_face(image_a, "image_a"), _single_face(image_b, "image_b")
    similarity = float(np.dot(face_a.embedding, face_b.embedding))
    model_version = get_pipeline().embedder.model_info.version
    projected = selectors.scorer(model_version).project(np.stack([face_a.embedding, face_b.embedding]))
    score = round(float(projected[0] @ projected[1]), 4)  # one comparison: the calibrated similarity itself
    threshold, source = selectors.threshold_for(RecognitionThreshold.Kind.VERIFY, threshold, model_version)
    policy = liveness_policy(liveness)
    live = (check_liveness(image_a, [face_a.detection], policy=policy)
            + check_liveness(image_b, [face_b.detection], policy=policy))
    match, reason = _verdict(score, threshold, live, policy)
    result = VerifyResult(similarity=round(similarity, 4), score=score, match=match, reason=reason,
                          threshold=threshold, threshold_source=source, model_version=model_version,
                          faces=[[round(v, 1) for v in f.detection.box] for f in (face_a, face_b)],
                          liveness=live, liveness_policy=policy)
    with transaction.atomic():
        audit.record(action="recognition.verify", actor=actor,
                     details={"mode": "two-images", "similarity": result.similarity, "score": score,
                              "match": result.match, "reason": reason, "threshold": threshold,
                              **_liveness_audit(live, policy)})
        _emit_verify_event(result)
    metrics.count_verify(result)
    return result


def verify_identity(*, image: np.ndarray, identity, threshold: float | None = None, actor=None,
                    liveness: str | None = None) -> VerifyResult:
    """1:1 against a claimed identity (`compare_with_identity`), then recorded (`record_verify_identity`)."""
    result = compare_with_identity(image=image, identity=identity, threshold=threshold, liveness=liveness)
    record_verify_identity(result, identity=identity, actor=actor)
    return result


def compare_with_identity(*, image: np.ndarray, identity, threshold: float | None = None,
                          liveness: str | None = None) -> VerifyResult:
    """1:1: is the (largest) face in the photo the claimed identity? Records nothing.

    The best of the person's templates is scored for the number compared: an impostor
    meets each of them, so the same threshold means the same FAR for 1 or 10 templates.
    """
    if identity.status != Identity.Status.ACTIVE:
        raise IdentityErased(f"identity #{identity.pk} was erased", field="identity_id")
    face = _single_face(image, "image")
    model_version = get_pipeline().embedder.model_info.version
    found = selectors.identity_similarity(face.embedding, identity_id=identity.pk, model_version=model_version)
    if found is None:
        raise NoTemplates(f"identity #{identity.pk} has no approved templates to compare with", field="identity_id")
    similarity, projected, count = found
    score = round(float(selectors.scorer(model_version).score(projected, count)), 4)
    threshold, source = selectors.threshold_for(RecognitionThreshold.Kind.VERIFY, threshold, model_version)
    policy = liveness_policy(liveness)
    live = check_liveness(image, [face.detection], policy=policy)
    match, reason = _verdict(score, threshold, live, policy)
    result = VerifyResult(similarity=round(similarity, 4), score=score, match=match, reason=reason,
                          threshold=threshold, threshold_source=source, model_version=model_version,
                          faces=[[round(v, 1) for v in face.detection.box]], identity_id=identity.pk,
                          templates_compared=count, liveness=live, liveness_policy=policy)
    return result


def record_verify_identity(result: VerifyResult, *, identity, actor=None, details: dict | None = None) -> None:
    """What a verify answer against a person leaves behind: its match score, one audit entry (`details` adds to
    it), metrics, events."""
    with transaction.atomic():
        if result.match:
            record_match_scores([(identity.pk, result.similarity)], kind=MatchScore.Kind.VERIFY,
                                model_version=result.model_version)
        audit.record(action="recognition.verify", actor=actor, target=identity,
                     details={"mode": "identity", "similarity": result.similarity, "score": result.score,
                              "match": result.match, "reason": result.reason, "threshold": result.threshold,
                              **_liveness_audit(result.liveness or [], result.liveness_policy), **(details or {})})
        _emit_verify_event(result)
    metrics.count_verify(result)


def _emit_identify_events(faces: list[IdentifiedFace], threshold: float) -> None:
    """Webhooks: one event per face, ids and figures only (no box, no name, no embedding)."""
    for index, face in enumerate(faces):
        if face.reason == LIVENESS_FAILED:
            emit("liveness.failed", {"face_index": index, "liveness": face.liveness}, identity_id=None)
        kind = "identify.identified" if face.identity_id is not None else "identify.unknown"
        emit(kind, {"face_index": index, "identity_id": face.identity_id, "decision": kind.split(".")[1],
                    "reason": face.reason, "score": face.score, "threshold": threshold}, identity_id=face.identity_id)


def _emit_verify_event(result: VerifyResult) -> None:
    if result.reason == LIVENESS_FAILED:
        emit("liveness.failed", {"identity_id": result.identity_id, "liveness": result.liveness},
             identity_id=result.identity_id)
    emit("verify.completed", {"identity_id": result.identity_id, "matched": result.match, "reason": result.reason,
                              "score": result.score, "threshold": result.threshold}, identity_id=result.identity_id)
