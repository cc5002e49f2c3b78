"""Hand-computed checks of evaluation.metrics (expected numbers are derived in comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation import metrics as m

# Running example H: 4 genuine + 4 impostor similarity scores.
#   genuine  0.9 0.8 0.7 0.4
#   impostor 0.6 0.5 0.3 0.2
# ROC, accept score >= t:
#   t:   inf  .9   .8   .7   .6   .5   .4   .3   .2
#   FAR:  0    0    0    0  .25   .5   .5  .75    1
#   TAR:  0  .25   .5  .75  .75  .75    1    1    1
H_SCORES = np.array([0.9, 0.8, 0.7, 0.4, 0.6, 0.5, 0.3, 0.2])
H_LABELS = np.array([True] * 4 + [False] * 4)


# --------------------------------------------------------------------------- pair scores


def test_pair_scores_rowwise():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 1.0], [2.0, 2.0]])
    # Orthogonal -> 0; parallel -> 1 (scale does not matter).
    np.testing.assert_allclose(m.cosine_similarity_pairs(a, b), [0.0, 1.0], atol=1e-12)
    # |(1,-1)| = sqrt 2 and |(-1,-1)| = sqrt 2.
    np.testing.assert_allclose(m.euclidean_distance_pairs(a, b), [math.sqrt(2)] * 2)


def test_pair_scores_shape_mismatch():
    with pytest.raises(ValueError):
        m.cosine_similarity_pairs(np.zeros((2, 3)), np.zeros((3, 3)))


# --------------------------------------------------------------------------- ROC family


def test_roc_points_match_table():
    far, tar, thr = m.roc(H_SCORES, H_LABELS)
    assert thr[0] == np.inf
    np.testing.assert_allclose(thr[1:], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    np.testing.assert_allclose(far, [0, 0, 0, 0, 0.25, 0.5, 0.5, 0.75, 1])
    np.testing.assert_allclose(tar, [0, 0.25, 0.5, 0.75, 0.75, 0.75, 1, 1, 1])


def test_auc_hand_count():
    # Genuine beats impostor in: 0.9, 0.8, 0.7 beat all 4 (12); 0.4 beats 0.3, 0.2 (2) -> 14/16.
    assert m.auc(H_SCORES, H_LABELS) == pytest.approx(14 / 16)


def test_auc_ties_count_half():
    # genuine 0.9, 0.5; impostor 0.5, 0.1: wins .9>.5, .9>.1, .5>.1, tie .5=.5 -> 3.5/4.
    assert m.auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)


def test_eer_on_a_roc_point():
    # At t=0.6: FAR = 0.25 and FRR = 1 - 0.75 = 0.25 -> exact crossing.
    rate, thr = m.eer(H_SCORES, H_LABELS)
    assert rate == pytest.approx(0.25)
    assert thr == pytest.approx(0.6)


def test_eer_interpolates_between_points():
    # genuine 0.9, 0.5; impostor 0.8, 0.3, 0.2, 0.1.
    #   t=0.8: FAR .25, FRR .5 (diff -.25);  t=0.5: FAR .25, FRR 0 (diff +.25)
    # Halfway: FAR .25, FRR .25 -> EER .25, threshold (0.8 + 0.5) / 2 = 0.65.
    rate, thr = m.eer([0.9, 0.5, 0.8, 0.3, 0.2, 0.1], [1, 1, 0, 0, 0, 0])
    assert rate == pytest.approx(0.25)
    assert thr == pytest.approx(0.65)


def test_perfect_separation():
    s, y = [0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]
    assert m.auc(s, y) == 1.0
    # t=0.8: FAR 0, FRR 0.
    assert m.eer(s, y) == pytest.approx((0.0, 0.8))
    # Best cut is the midpoint of the gap between 0.2 and 0.8.
    assert m.best_threshold_accuracy(s, y) == pytest.approx((1.0, 0.5))


def test_all_scores_tied():
    s, y = [0.5] * 4, [1, 1, 0, 0]
    assert m.auc(s, y) == pytest.approx(0.5)
    # ROC jumps (0,0) -> (1,1); the crossing is halfway; threshold cannot use +inf.
    assert m.eer(s, y) == pytest.approx((0.5, 0.5))
    # Nothing separates: accept-all (-inf) is the lowest of the equally good thresholds.
    assert m.best_threshold_accuracy(s, y) == (0.5, -np.inf)


def test_tar_at_far_and_unresolvable_flag():
    res = m.tar_at_far(H_SCORES, H_LABELS, far_targets=(0.5, 0.25, 0.1))
    # FAR <= .5 : laxest is t=0.4 (FAR .5) -> TAR 1.
    assert res[0.5] == m.TarAtFar(tar=1.0, threshold=0.4, far=0.5, resolvable=True)
    # FAR <= .25: t=0.6 (one impostor, 0.6, accepted) -> TAR .75.
    assert res[0.25] == m.TarAtFar(tar=0.75, threshold=0.6, far=0.25, resolvable=True)
    # 0.1 < 1/4 impostors: only FAR 0 fits -> t=0.7, TAR .75, flagged unresolvable.
    assert res[0.1] == m.TarAtFar(tar=0.75, threshold=0.7, far=0.0, resolvable=False)


def test_tar_at_far_default_targets_all_unresolvable_with_4_impostors():
    res = m.tar_at_far(H_SCORES, H_LABELS)
    assert set(res) == {1e-1, 1e-2, 1e-3, 1e-4}
    assert not any(r.resolvable for r in res.values())


def test_tar_at_far_resolvable_boundary():
    # 10 impostors: 0.1 = 1/10 is resolvable (float 0.1 * 10 must count as 1 impostor).
    s = np.r_[np.linspace(0.91, 1.0, 10), np.linspace(0.0, 0.9, 10)]
    y = np.r_[np.ones(10, bool), np.zeros(10, bool)]
    r = m.tar_at_far(s, y, far_targets=(0.1,))[0.1]
    assert r.resolvable and r.far == pytest.approx(0.1) and r.tar == 1.0


# --------------------------------------------------------------------------- accuracy


def test_best_threshold_accuracy_hand_case():
    # Ascending: .2i .3i .4g .5i .6i .7g .8g .9g. Cut at 0.65: rejects 4 impostors,
    # accepts .7 .8 .9 -> 7/8 correct. The next best (0.35) gives 6/8.
    assert m.best_threshold_accuracy(H_SCORES, H_LABELS) == pytest.approx((0.875, 0.65))


def test_best_threshold_accuracy_ties_across_classes():
    # genuine .9 .5, impostor .5 .1. Cuts: -inf 2/4, 0.3 3/4, 0.7 3/4, inf 2/4 -> lowest best 0.3.
    res = m.best_threshold_accuracy([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    assert res == pytest.approx((0.75, 0.3))


# Three folds, one genuine + one impostor each:
#   fold 0: g .9  i .3     fold 1: g .8  i .4     fold 2: g .5  i .2
# Test fold 0: train .2i .4i .5g .8g -> cut .45 -> .9 accepted, .3 rejected -> 1.0
# Test fold 1: train .2i .3i .5g .9g -> cut .40 -> .8 accepted, .4 >= .4 accepted (wrong) -> 0.5
# Test fold 2: train .3i .4i .8g .9g -> cut .60 -> .5 rejected (wrong), .2 rejected -> 0.5
KF_SCORES = np.array([0.9, 0.3, 0.8, 0.4, 0.5, 0.2])
KF_LABELS = np.array([1, 0, 1, 0, 1, 0], bool)
KF_FOLDS = np.array([0, 0, 1, 1, 2, 2])


def test_kfold_thresholds_come_from_other_folds():
    r = m.kfold_verification_accuracy(KF_SCORES, KF_LABELS, KF_FOLDS)
    np.testing.assert_allclose(r.thresholds, [0.45, 0.40, 0.60])
    np.testing.assert_allclose(r.accuracies, [1.0, 0.5, 0.5])
    assert r.mean == pytest.approx(2 / 3)
    # Deviations 1/3, -1/6, -1/6: population var = (1/9 + 2/36)/3 = 1/18.
    assert r.std == pytest.approx(math.sqrt(1 / 18))
    # Sample var = (1/6)/2 = 1/12; sem = sqrt(1/12)/sqrt(3) = 1/6.
    assert r.sem == pytest.approx(1 / 6)
    # A threshold tuned on all data would score 1.0 (cut .45): k-fold must not do that.
    assert m.best_threshold_accuracy(KF_SCORES, KF_LABELS)[0] == 1.0


def test_kfold_arbitrary_fold_ids():
    r = m.kfold_verification_accuracy(KF_SCORES, KF_LABELS, KF_FOLDS * 3 + 5)
    np.testing.assert_array_equal(r.folds, [5, 8, 11])
    np.testing.assert_allclose(r.accuracies, [1.0, 0.5, 0.5])


def test_kfold_rejects_single_fold():
    with pytest.raises(ValueError):
        m.kfold_verification_accuracy(KF_SCORES, KF_LABELS, np.zeros(6, int))


# --------------------------------------------------------------------------- LFW protocol


def _offset_pairs(n_folds: int = 3):
    """Per fold 4 pairs around a common offset (1, 0); deviations cancel within each fold.

    same  A : (1, 2)  , (1, 0.5)    raw cos = (1 + 1) / (sqrt5 * sqrt1.25) = 0.8
    same -A : (1,-2)  , (1,-0.5)    raw cos = 0.8
    diff  B : (1.5, 0), (0.5, 0)    raw cos = 1 (parallel)
    diff -B : (0.5, 0), (1.5, 0)    raw cos = 1
    Minus the mean (1, 0): A -> (0,2),(0,.5) cos 1; B -> (.5,0),(-.5,0) cos -1.
    """
    a1 = [[1, 2], [1, -2], [1.5, 0], [0.5, 0]]
    b1 = [[1, 0.5], [1, -0.5], [0.5, 0], [1.5, 0]]
    y1 = [True, True, False, False]
    a = np.array(a1 * n_folds, float)
    b = np.array(b1 * n_folds, float)
    return a, b, np.array(y1 * n_folds), np.repeat(np.arange(n_folds), 4)


def test_lfw_protocol_subtract_mean_fixes_offset():
    a, b, y, f = _offset_pairs()
    raw = m.lfw_protocol(a, b, y, f, distance="cosine")
    # Impostors (1.0) outscore genuines (0.8): best is accept-all -> 0.5 every fold.
    np.testing.assert_allclose(raw.accuracies, 0.5)
    sub = m.lfw_protocol(a, b, y, f, distance="cosine", subtract_mean=True)
    # Training mean is exactly (1, 0): genuine +1, impostor -1, cut at 0 -> perfect.
    np.testing.assert_allclose(sub.accuracies, 1.0)
    np.testing.assert_allclose(sub.thresholds, 0.0, atol=1e-12)


def test_lfw_protocol_euclidean():
    a, b, y, f = _offset_pairs()
    # Normalised A: (1,2)/sqrt5 vs (2,1)/sqrt5 -> distance sqrt(2/5); B: both (1,0) -> 0.
    # Impostors are closer -> 0.5. Euclidean distance is translation invariant, so
    # subtract_mean changes nothing.
    for sm in (False, True):
        r = m.lfw_protocol(a, b, y, f, distance="euclidean", subtract_mean=sm)
        np.testing.assert_allclose(r.accuracies, 0.5)


def test_lfw_protocol_matches_kfold_on_fixed_scores():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 8)), rng.normal(size=(40, 8))
    y = np.arange(40) % 2 == 0
    f = np.arange(40) % 4
    r1 = m.lfw_protocol(a, b, y, f, distance="cosine")
    r2 = m.kfold_verification_accuracy(m.cosine_similarity_pairs(a, b), y, f)
    np.testing.assert_allclose(r1.accuracies, r2.accuracies)


def test_lfw_protocol_bad_distance():
    a, b, y, f = _offset_pairs()
    with pytest.raises(ValueError):
        m.lfw_protocol(a, b, y, f, distance="manhattan")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- identification

# 3 probes x 3 gallery identities (0, 1, 2); probe i is identity i.
#   probe 0: [.9 .1 .2] correct .9 is highest        -> rank 1
#   probe 1: [.8 .7 .3] correct .7, .8 above          -> rank 2
#   probe 2: [.6 .5 .4] correct .4, .6 and .5 above   -> rank 3
CMC_MATRIX = np.array([[0.9, 0.1, 0.2], [0.8, 0.7, 0.3], [0.6, 0.5, 0.4]])


def test_cmc_3x3():
    np.testing.assert_allclose(m.cmc(CMC_MATRIX, [0, 1, 2], [0, 1, 2]), [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(m.cmc(CMC_MATRIX, [0, 1, 2], [0, 1, 2], max_rank=2), [1 / 3, 2 / 3])
    assert m.top_k_accuracy(CMC_MATRIX, [0, 1, 2], [0, 1, 2], k=1) == pytest.approx(1 / 3)
    assert m.top_k_accuracy(CMC_MATRIX, [0, 1, 2], [0, 1, 2], k=2) == pytest.approx(2 / 3)


def test_identification_ranks_multi_template_and_ties():
    # Gallery: a, a, b. Identity score = max over its templates.
    # probe 'b': a = max(.5, .9) = .9, b = .9 -> tie counts against -> rank 2.
    # probe 'a': a = .8, b = .3 -> rank 1.
    ranks, correct = m.identification_ranks([[0.5, 0.9, 0.9], [0.1, 0.8, 0.3]], ["b", "a"],
                                            ["a", "a", "b"])
    np.testing.assert_array_equal(ranks, [2, 1])
    np.testing.assert_allclose(correct, [0.9, 0.8])


def test_identification_probe_not_enrolled():
    with pytest.raises(ValueError, match="not in gallery"):
        m.cmc(CMC_MATRIX, [0, 1, 7], [0, 1, 2])


def test_dir_at_fpir_tiny():
    # Mated: scores .9 .8 .7 .6, rank-1 correct T T F T. Non-mated top scores .85 .5 .4 .3.
    mated, rank1 = [0.9, 0.8, 0.7, 0.6], [True, True, False, True]
    nonmated = [0.85, 0.5, 0.4, 0.3]
    res = m.dir_at_fpir(mated, rank1, nonmated, fpir_targets=(0.5, 0.25, 0.1))
    # FPIR <= .5 : 2 non-mated may pass; laxest cut above the 3rd (.4) is .5 -> FPIR .5.
    #   Mated rank-1 with score >= .5: .9 .8 .6 -> DIR 3/4.
    assert res[0.5] == m.DirAtFpir(dir=0.75, threshold=0.5, fpir=0.5, resolvable=True)
    # FPIR <= .25: cut above .5 -> .6; passes .85 only. DIR: .9 .8 .6 -> 3/4.
    assert res[0.25] == m.DirAtFpir(dir=0.75, threshold=0.6, fpir=0.25, resolvable=True)
    # FPIR .1 < 1/4: cut above .85 -> .9; only .9 passes -> DIR 1/4, unresolvable.
    assert res[0.1] == m.DirAtFpir(dir=0.25, threshold=0.9, fpir=0.0, resolvable=False)


def test_dir_from_identification_ranks():
    ranks, correct = m.identification_ranks(CMC_MATRIX, [0, 1, 2], [0, 1, 2])
    # Only probe 0 is rank 1 (score .9); non-mated top .95 is above it, .1 below.
    res = m.dir_at_fpir(correct, ranks == 1, [0.95, 0.1], fpir_targets=(0.5,))
    # One of two non-mated may pass: cut above .1 is the next score, .4 -> DIR 1/3.
    assert res[0.5].threshold == pytest.approx(0.4)
    assert res[0.5].dir == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_perfect_separation_is_degenerate():
    ci = m.bootstrap_ci(m.auc, [0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], n=200)
    assert (ci.estimate, ci.low, ci.high) == (1.0, 1.0, 1.0)


def test_bootstrap_ci_deterministic_and_brackets_estimate():
    ci1 = m.bootstrap_ci(m.auc, H_SCORES, H_LABELS, n=300, seed=3)
    ci2 = m.bootstrap_ci(m.auc, H_SCORES, H_LABELS, n=300, seed=3)
    assert ci1 == ci2
    assert ci1.estimate == pytest.approx(14 / 16)
    assert ci1.low <= ci1.estimate <= ci1.high <= 1.0
    assert ci1.low < ci1.high  # 8 samples: the interval must be wide


def test_bootstrap_ci_with_accuracy_metric():
    ci = m.bootstrap_ci(lambda s, y: m.best_threshold_accuracy(s, y)[0], H_SCORES, H_LABELS, n=100)
    assert ci.estimate == pytest.approx(0.875)
    assert 0.5 <= ci.low <= ci.high <= 1.0


# --------------------------------------------------------------------------- validation


def test_input_validation():
    with pytest.raises(ValueError):
        m.auc([0.1, 0.2], [1])
    with pytest.raises(ValueError):
        m.auc([0.1, 0.2], [1, 1])  # one class only
    with pytest.raises(ValueError):
        m.roc([0.1, np.nan], [1, 0])
    with pytest.raises(ValueError):
        m.auc([0.1, 0.2], [2, 0])
