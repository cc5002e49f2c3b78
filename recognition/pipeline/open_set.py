"""The decision identify and verify make, and the evaluation reports measure (plain numpy).

`Scorer` wraps the calibration of the serving weights (or none, for weights without
one: scores are then plain cosine similarities). The candidates a search returned are
listed by their calibrated score, the number the answer is decided on: the first one is
the person when its score reaches the threshold (which holds the share of strangers
answered as someone at the target FPIR whatever the gallery's size) and the classifier,
when it knows every candidate, picks the same one. A classifier whose first choice is
another candidate vetoes the answer (`classifier_disagrees`): it disagrees with the
similarity on about half of the strangers and almost never on enrolled people, so the
veto can only lower the strangers accepted (the calibrated FPIR stays a bound) and, on
LFW, costs no correct answer (README, Scores and thresholds). A classifier that is
missing, training or older than the newest approvals has no say (`decided_by: score`).
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


# Reasons an answer is `unknown` that the decision itself gives (identify adds liveness_failed).
BELOW_THRESHOLD, CLASSIFIER_DISAGREES, EMPTY_GALLERY = "below_threshold", "classifier_disagrees", "empty_gallery"
DECIDED_BY_SCORE, DECIDED_BY_SCORE_AND_CLASSIFIER = "score", "score+classifier"


@dataclass(frozen=True)
class Identification:
    """One face's answer among the candidates a search returned (indices into them)."""

    order: np.ndarray  # candidates by calibrated score, best first (ties: similarity)
    scores: np.ndarray  # per candidate: the calibrated score thresholds apply to
    probabilities: np.ndarray | None  # per candidate: SVM softmax among them (NaN: unknown to it)
    classifier_first: int | None  # the SVM's first choice; None when it has no say

    @property
    def decided_by(self) -> str:
        return DECIDED_BY_SCORE if self.classifier_first is None else DECIDED_BY_SCORE_AND_CLASSIFIER

    def reason(self, threshold: float) -> str | None:
        """Why the face is `unknown` at `threshold`, or None when it is the first candidate."""
        if not self.order.size:
            return EMPTY_GALLERY
        first = int(self.order[0])
        if float(self.scores[first]) < threshold:
            return BELOW_THRESHOLD
        if self.classifier_first is not None and self.classifier_first != first:
            return CLASSIFIER_DISAGREES
        return None

    def known(self, threshold: float) -> bool:
        return self.reason(threshold) is None

    def decision_score(self) -> float:
        """The first candidate's score, or VETOED when the classifier disagrees: what an evaluation
        thresholds to measure this decision at every threshold."""
        if not self.order.size:
            return VETOED
        first = int(self.order[0])
        if self.classifier_first is not None and self.classifier_first != first:
            return VETOED
        return float(self.scores[first])


# Below every calibrated score (cosines and their calibrated values lie in [-1, 1]).
VETOED = -2.0


def identify_among(embedding: np.ndarray, labels, similarities: np.ndarray, *, comparisons: int,
                   scorer: Scorer, classifier=None) -> Identification:
    """What identify answers for one face, given its candidates (`labels`, best calibrated-space
    similarity each) from a search of `comparisons` templates; `classifier` has a say when it
    knows every candidate.

    Shared by recognition.services.identify (pgvector search) and the open-set report
    (exact search on a held-out split), so the report measures the answers users get.
    """
    similarities = np.asarray(similarities, dtype=np.float64)
    scores = np.atleast_1d(scorer.score(similarities, max(int(comparisons), len(similarities))))
    order = np.lexsort((-similarities, -scores)) if similarities.size else np.zeros(0, dtype=int)
    probabilities, classifier_first = None, None
    if classifier is not None and len(labels):
        # Only the candidates are scored: a dot product each, whatever the gallery's size.
        decisions = classifier.decision_for(embedding, labels)
        probabilities = classifier.proba_for(embedding, labels)
        if not np.isnan(decisions).any():
            classifier_first = int(np.lexsort((-similarities, -decisions))[0])
    return Identification(order=order, scores=scores, probabilities=probabilities, classifier_first=classifier_first)
