"""Score calibration: per-pair FAR from impostor pairs, and scores that mean one rate whatever n is."""

import numpy as np
import pytest

from recognition.pipeline.calibration import ScoreCalibration, fit_calibration, load_calibration
from recognition.pipeline.open_set import VETOED, Scorer, identify_among

SERVING = "casia-webface-20180408-102900"


def _strangers(n=400, dim=64, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_fit_measures_the_far_of_its_impostor_pairs_and_round_trips():
    x = _strangers()
    calibration = fit_calibration(x, model_version="m", source="synthetic")
    projected = calibration.project(x)
    sims = (projected @ projected.T)[np.triu_indices(len(x), k=1)]

    for s in (0.0, 0.1, 0.2):
        assert calibration.pair_far(s) == pytest.approx(np.mean(sims >= s), rel=0.05)
    assert calibration.similarity_at_far(calibration.pair_far(0.2)) == pytest.approx(0.2, abs=0.006)
    assert calibration.pairs == len(sims)
    again = ScoreCalibration.from_json(calibration.to_json())
    np.testing.assert_allclose(again.pair_far([0.1, 0.3]), calibration.pair_far([0.1, 0.3]), rtol=1e-4)


def test_the_tail_past_the_resolved_pairs_is_extrapolated_and_keeps_falling():
    calibration = fit_calibration(_strangers(), model_version="m", source="synthetic")
    tail = calibration.pair_far([0.45, 0.5, 0.6, 0.8])
    assert (np.diff(tail) <= 0).all() and tail[-1] < 1e-6


def test_fit_refuses_too_few_photos():
    with pytest.raises(ValueError, match="at least 50"):
        fit_calibration(_strangers(n=10), model_version="m", source="x")


def test_a_score_against_one_template_is_the_similarity_and_discounts_more_templates():
    calibration = load_calibration(SERVING)
    assert calibration.score(0.6, 1) == pytest.approx(0.6, abs=1e-3)
    scores = calibration.score(0.6, np.array([1, 10, 1000, 100_000]))
    assert (np.diff(scores) < 0).all()


def test_a_score_threshold_keeps_the_stranger_rate_whatever_the_gallery_size():
    """The chance that a stranger's best of n impostor similarities reaches the threshold: the same for n = 1..1e5."""
    calibration = load_calibration(SERVING)
    threshold = calibration.similarity_at_far(1e-2)
    for n in (1, 20, 1000, 100_000):
        # The similarity a stranger's best match needs for its score to reach the threshold ...
        grid = np.linspace(0.2, 0.95, 3001)
        needed = grid[np.argmax(calibration.score(grid, n) >= threshold)]
        # ... is reached by the best of n independent impostor pairs 1% of the time.
        assert calibration.gallery_far(needed, n) == pytest.approx(1e-2, rel=0.1)


def test_the_shipped_calibration_of_the_serving_weights():
    calibration = load_calibration(SERVING)
    assert calibration is not None and calibration.pairs > 8_000_000
    # Measured on LFW's single-photo people (mean face subtracted): see the README.
    assert calibration.similarity_at_far(1e-3) == pytest.approx(0.456, abs=0.01)
    assert calibration.similarity_at_far(1e-2) == pytest.approx(0.335, abs=0.01)
    assert load_calibration("some-other-weights") is None


def test_the_similarity_from_database_dot_products_equals_the_projected_cosine():
    calibration = load_calibration(SERVING)
    rng = np.random.default_rng(1)
    x, t = (v / np.linalg.norm(v, axis=-1, keepdims=True) for v in (rng.normal(size=512), rng.normal(size=(5, 512))))
    direct = calibration.project(t) @ calibration.project(x)
    via_dots = calibration.similarity_from_raw(t @ x, x @ calibration.mean, t @ calibration.mean)
    np.testing.assert_allclose(via_dots, direct, atol=1e-5)


def test_weights_without_a_calibration_score_plain_cosine():
    scorer = Scorer(None)
    assert not scorer.calibrated and scorer.threshold_at(1e-2) is None
    np.testing.assert_array_equal(scorer.score(np.array([0.3, 0.7]), 1000), [0.3, 0.7])


class Decisions:
    """A classifier's decision values for named candidates (NaN: one it was not trained on)."""

    def __init__(self, values: dict[str, float]):
        self.values = values

    def decision_for(self, embedding, labels):
        return np.array([self.values.get(label, np.nan) for label in labels])

    def proba_for(self, embedding, labels):
        return np.full(len(labels), np.nan)


def identified(decisions=None, sims=(0.7, 0.6, 0.5)):
    return identify_among(np.zeros(2), ["a", "b", "c"], np.array(sims), comparisons=3, scorer=Scorer(None),
                          classifier=None if decisions is None else Decisions(decisions))


def test_candidates_are_listed_by_score_and_the_first_is_the_answer_when_the_classifier_agrees():
    answer = identified({"a": 0.4, "b": 0.1, "c": -0.3}, sims=(0.5, 0.7, 0.6))
    assert answer.order.tolist() == [1, 2, 0]  # by score: what the answer is decided on
    assert answer.decided_by == "score+classifier"
    assert answer.reason(0.65) == "classifier_disagrees"  # the SVM prefers "a"
    assert answer.decision_score() == VETOED
    agreeing = identified({"a": -0.4, "b": 0.3, "c": -0.3}, sims=(0.5, 0.7, 0.6))
    assert agreeing.reason(0.65) is None and agreeing.known(0.65) and agreeing.decision_score() == 0.7
    assert agreeing.reason(0.75) == "below_threshold"


def test_a_classifier_that_does_not_know_every_candidate_has_no_say():
    answer = identified({"a": 0.1, "c": 0.9})  # "b" approved after its last training
    assert answer.decided_by == "score" and answer.classifier_first is None
    assert answer.order.tolist() == [0, 1, 2] and answer.known(0.65)
    assert identified(None).decided_by == "score"
    empty = identify_among(np.zeros(2), [], np.array([]), comparisons=0, scorer=Scorer(None))
    assert empty.reason(0.5) == "empty_gallery" and empty.decision_score() == VETOED
