"""Verification (1:1) metrics: ROC, AUC, EER, TAR at FAR, k-fold and LFW accuracy (no Django)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn import metrics as skm

from evaluation.metrics.scores import (both_classes, cosine_similarity_pairs, euclidean_distance_pairs,
                                       l2_normalize, rowwise, scores_labels, threshold_at_rate)


@dataclass(frozen=True)
class TarAtFar:
    """TAR at one FAR target.

    ``resolvable`` is False when the target is below ``1 / n_impostors``: the only
    empirical FAR <= target is then 0, so ``tar`` is the TAR at FAR = 0 (a
    conservative lower bound), not a measurement at the requested target.
    """

    tar: float
    threshold: float
    far: float  # empirical FAR actually achieved at ``threshold``
    resolvable: bool


@dataclass(frozen=True)
class KFoldResult:
    """k-fold verification accuracy (LFW View 2 style).

    ``std`` is the population std (ddof=0) as printed by davidsandberg/facenet;
    ``sem`` is the standard error of the mean the LFW site asks for (ddof=1, / sqrt(k)).
    """

    mean: float
    std: float
    sem: float
    accuracies: np.ndarray  # per fold, in sorted fold-id order
    thresholds: np.ndarray  # per fold, chosen on the other folds
    folds: np.ndarray  # the fold ids, sorted


def roc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve as (far, tar, thresholds), thresholds decreasing.

    Point i is ``score >= thresholds[i]``; ``thresholds[0]`` is +inf (accept nothing).
    Every distinct score is kept (no point dropping), so the curve is exact.
    """
    s, y = scores_labels(scores, labels)
    both_classes(y)
    far, tar, thr = skm.roc_curve(y, s, drop_intermediate=False)
    thr = thr.astype(np.float64)
    thr[0] = np.inf  # sklearn versions differ (max+1 vs inf); make it explicit
    return far, tar, thr


def auc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    s, y = scores_labels(scores, labels)
    both_classes(y)
    return float(skm.roc_auc_score(y, s))


def eer(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
        ) -> tuple[float, float]:
    """Equal error rate and its threshold, as (eer, threshold).

    FAR rises and FRR = 1 - TAR falls along the ROC; between the two ROC points where
    FAR - FRR changes sign both rates (and the threshold) are interpolated linearly.
    """
    far, tar, thr = roc(scores, labels)
    diff = far - (1.0 - tar)  # -1 at threshold +inf, +1 at the lowest score
    i = int(np.argmax(diff >= 0))
    if diff[i] == 0 or i == 0:
        return float(far[i]), float(thr[i])
    t = -diff[i - 1] / (diff[i] - diff[i - 1])
    rate = far[i - 1] + t * (far[i] - far[i - 1])
    if np.isinf(thr[i - 1]):  # cannot interpolate towards +inf
        return float(rate), float(thr[i])
    return float(rate), float(thr[i - 1] + t * (thr[i] - thr[i - 1]))


def tar_at_far(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray,
               far_targets: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4)) -> dict[float, TarAtFar]:
    """TAR at each FAR target, with the laxest threshold whose empirical FAR <= target.

    Targets below ``1 / n_impostors`` come back with ``resolvable=False`` (see TarAtFar).
    """
    s, y = scores_labels(scores, labels)
    both_classes(y)
    genuine, impostor = s[y], s[~y]
    candidates = np.unique(s)
    out: dict[float, TarAtFar] = {}
    for target in far_targets:
        thr, far, ok = threshold_at_rate(impostor, candidates, float(target))
        out[target] = TarAtFar(tar=float(np.mean(genuine >= thr)), threshold=thr, far=far,
                               resolvable=ok)
    return out


def best_threshold_accuracy(scores: Sequence[float] | np.ndarray,
                            labels: Sequence[bool] | np.ndarray) -> tuple[float, float]:
    """Maximum accuracy over thresholds and that threshold, as (accuracy, threshold).

    Candidates are midpoints between consecutive distinct scores plus -inf (accept all)
    and +inf (accept none); O(n log n) via cumulative class counts. Among equally good
    thresholds the lowest is returned, for determinism.
    """
    s, y = scores_labels(scores, labels)
    uniq, inv = np.unique(s, return_inverse=True)
    gen = np.bincount(inv, weights=y, minlength=uniq.size)
    imp = np.bincount(inv, weights=~y, minlength=uniq.size)
    # Candidate j rejects the j lowest distinct values: those impostors are right, those
    # genuines are wrong.
    rejected_imp = np.concatenate(([0.0], np.cumsum(imp)))
    rejected_gen = np.concatenate(([0.0], np.cumsum(gen)))
    correct = (y.sum() - rejected_gen) + rejected_imp
    j = int(np.argmax(correct))
    candidates = np.concatenate(([-np.inf], (uniq[:-1] + uniq[1:]) / 2.0, [np.inf]))
    return float(correct[j] / s.size), float(candidates[j])


def _accuracy_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((scores >= threshold) == labels))


def _kfold_result(accs: list[float], thrs: list[float], fold_ids: np.ndarray) -> KFoldResult:
    a = np.asarray(accs)
    sem = float(np.std(a, ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")
    return KFoldResult(mean=float(a.mean()), std=float(a.std()), sem=sem, accuracies=a,
                       thresholds=np.asarray(thrs), folds=fold_ids)


def _check_folds(folds: np.ndarray | Sequence[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(folds).ravel()
    if f.size != n:
        raise ValueError(f"folds has {f.size} entries for {n} pairs")
    ids = np.unique(f)
    if ids.size < 2:
        raise ValueError("need at least two folds")
    return f, ids


def kfold_verification_accuracy(scores: Sequence[float] | np.ndarray,
                                labels: Sequence[bool] | np.ndarray,
                                folds: Sequence[int] | np.ndarray) -> KFoldResult:
    """LFW View 2 protocol on fixed scores.

    For each fold: threshold = best_threshold_accuracy on all other folds, accuracy
    measured on the held-out fold. ``folds`` gives the fold id of each pair.
    """
    s, y = scores_labels(scores, labels)
    f, ids = _check_folds(folds, s.size)
    accs, thrs = [], []
    for k in ids:
        test = f == k
        _, thr = best_threshold_accuracy(s[~test], y[~test])
        accs.append(_accuracy_at(s[test], y[test], thr))
        thrs.append(thr)
    return _kfold_result(accs, thrs, ids)


def lfw_protocol(emb_a: np.ndarray, emb_b: np.ndarray, labels: Sequence[bool] | np.ndarray,
                 folds: Sequence[int] | np.ndarray, *,
                 distance: Literal["euclidean", "cosine"] = "euclidean",
                 subtract_mean: bool = False) -> KFoldResult:
    """k-fold verification accuracy from pair embeddings (N, d) x 2.

    - ``cosine``: score = cosine similarity.
    - ``euclidean``: score = -distance between L2-normalised embeddings.
    - ``subtract_mean``: per test fold, the mean of all embeddings (both sides) of the
      pairs in the *training* folds is subtracted first, so no test statistics leak.
      ``distance='cosine', subtract_mean=True`` is davidsandberg/facenet's published
      protocol (``distance_metric=1, subtract_mean=True``). With euclidean the mean is
      subtracted after L2-normalisation and the result is not renormalised (as facenet's
      ``distance_metric=0`` on its already-normalised embeddings).
    """
    a, b = rowwise(emb_a, emb_b)
    _, y = scores_labels(np.zeros(a.shape[0]), labels)
    f, ids = _check_folds(folds, a.shape[0])
    if distance == "euclidean":
        a, b = l2_normalize(a), l2_normalize(b)
        score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] = (
            lambda p, q: -euclidean_distance_pairs(p, q))
    elif distance == "cosine":
        score_fn = cosine_similarity_pairs
    else:
        raise ValueError(f"distance must be 'euclidean' or 'cosine', got {distance!r}")

    fixed = None if subtract_mean else score_fn(a, b)  # scores do not depend on the fold
    accs, thrs = [], []
    for k in ids:
        test = f == k
        if fixed is None:
            mean = np.concatenate([a[~test], b[~test]]).mean(axis=0)
            s = score_fn(a - mean, b - mean)
        else:
            s = fixed
        _, thr = best_threshold_accuracy(s[~test], y[~test])
        accs.append(_accuracy_at(s[test], y[test], thr))
        thrs.append(thr)
    return _kfold_result(accs, thrs, ids)
