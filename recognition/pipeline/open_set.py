"""The decision identify and verify make, and the evaluation reports measure (plain numpy).

`Scorer` wraps the calibration of the serving weights (or none, for weights without
one: scores are then plain cosine similarities). `rank_candidates` orders the
identities a search returned: by the SVM's decision values when the classifier knows
every one of them, else by similarity (a classifier that is missing, training, or
older than the newest approvals never hides anyone). The open-set decision is always
on the calibrated score of the first candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recognition.pipeline.calibration import ScoreCalibration, load_calibration


@dataclass(frozen=True)
class Scorer:
    calibration: ScoreCalibration | None

    @classmethod
    def for_model(cls, model_version: str) -> Scorer:
        return cls(load_calibration(model_version))

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    @property
    def mean(self) -> np.ndarray | None:
        return None if self.calibration is None else self.calibration.mean

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings whose cosines are the similarities scores are computed from."""
        x = np.asarray(embeddings, dtype=np.float32)
        return x if self.calibration is None else self.calibration.project(x)

    def similarity_from_raw(self, raw, probe_dot_mean, template_dot_mean) -> np.ndarray:
        if self.calibration is None:
            return np.asarray(raw, dtype=np.float64)
        return self.calibration.similarity_from_raw(raw, probe_dot_mean, template_dot_mean)

    def score(self, similarity, comparisons) -> np.ndarray:
        """What thresholds apply to: the best similarity against `comparisons` templates, made
        comparable across gallery sizes (see recognition.pipeline.calibration)."""
        if self.calibration is None:
            return np.asarray(similarity, dtype=np.float64)
        return self.calibration.score(similarity, comparisons)

    def threshold_at(self, rate: float) -> float | None:
        """The score threshold for a false-accept (or false-positive identification) rate."""
        return None if self.calibration is None else float(self.calibration.similarity_at_far(rate))


@dataclass(frozen=True)
class RankedCandidates:
    order: np.ndarray  # indices into the candidates, best first
    method: str  # "svm" or "similarity"


def rank_candidates(similarities: np.ndarray, decisions: np.ndarray | None) -> RankedCandidates:
    """Best first: the SVM's order when it scored every candidate, else the similarities'."""
    similarities = np.asarray(similarities, dtype=np.float64)
    if decisions is not None and len(decisions) and not np.isnan(decisions).any():
        return RankedCandidates(np.lexsort((-similarities, -np.asarray(decisions))), "svm")
    return RankedCandidates(np.argsort(-similarities, kind="stable"), "similarity")


@dataclass(frozen=True)
class Identification:
    """One face's answer among the candidates a search returned (indices into them)."""

    order: np.ndarray  # candidates best first
    ranked_by: str  # "svm" or "similarity"
    scores: np.ndarray  # per candidate: the calibrated score thresholds apply to
    probabilities: np.ndarray | None  # per candidate: SVM softmax among them (NaN: unknown to it)

    def known(self, threshold: float) -> bool:
        """Open-set decision: the first candidate's score reaches the threshold."""
        return bool(self.order.size) and float(self.scores[self.order[0]]) >= threshold


def identify_among(embedding: np.ndarray, labels, similarities: np.ndarray, *, comparisons: int,
                   scorer: Scorer, classifier=None) -> Identification:
    """What identify answers for one face, given its candidates (`labels`, best calibrated-space
    similarity each) from a search of `comparisons` templates; `classifier` re-ranks them.

    Shared by recognition.services.identify (pgvector search) and the open-set report
    (exact search on a held-out split), so the report measures the answers users get.
    """
    similarities = np.asarray(similarities, dtype=np.float64)
    scores = scorer.score(similarities, max(int(comparisons), len(similarities)))
    decisions = probabilities = None
    if classifier is not None and len(labels):
        # Only the candidates are scored: a dot product each, whatever the gallery's size.
        decisions = classifier.decision_for(embedding, labels)
        probabilities = classifier.proba_for(embedding, labels)
    ranked = rank_candidates(similarities, decisions)
    return Identification(order=ranked.order, ranked_by=ranked.method, scores=np.atleast_1d(scores),
                          probabilities=probabilities)
