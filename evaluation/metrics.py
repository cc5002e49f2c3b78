"""Face verification and identification metrics (plain numpy / scikit-learn, no Django).

Score convention everywhere: a higher score means "more likely the same person"
(a similarity). A pair is accepted as "same" when ``score >= threshold``.
Distances must be negated before they are passed in (``-euclidean_distance_pairs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "BootstrapCI",
    "DirAtFpir",
    "KFoldResult",
    "TarAtFar",
    "auc",
    "best_threshold_accuracy",
    "bootstrap_ci",
    "cmc",
    "cosine_similarity_pairs",
    "dir_at_fpir",
    "eer",
    "euclidean_distance_pairs",
    "identification_ranks",
    "kfold_verification_accuracy",
    "l2_normalize",
    "lfw_protocol",
    "max_per_identity",
    "roc",
    "tar_at_far",
    "top_k_accuracy",
]

_EPS = 1e-12  # guards divisions by a zero norm and float noise in rate comparisons


# --------------------------------------------------------------------------- results


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
class DirAtFpir:
    """Open-set DIR at one FPIR target (``resolvable`` as in :class:`TarAtFar`)."""

    dir: float
    threshold: float
    fpir: float  # empirical FPIR actually achieved at ``threshold``
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


@dataclass(frozen=True)
class BootstrapCI:
    """Percentile bootstrap confidence interval around a point estimate."""

    estimate: float
    low: float
    high: float
    alpha: float
    n: int


# --------------------------------------------------------------------------- helpers


def _scores_labels(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to (float64 scores, bool labels) of equal 1-D shape."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.size} vs {y.size}")
    if s.size == 0:
        raise ValueError("no scores given")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity")
    if y.dtype != bool:
        if not np.all(np.isin(y, (0, 1))):
            raise ValueError("labels must be boolean or 0/1")
        y = y.astype(bool)
    return s, y


def _both_classes(y: np.ndarray) -> None:
    if y.all() or not y.any():
        raise ValueError("need at least one genuine (True) and one impostor (False) label")


def _threshold_at_rate(negatives: np.ndarray, candidates: np.ndarray, target: float
                       ) -> tuple[float, float, bool]:
    """Laxest threshold among ``candidates`` with ``mean(negatives >= t) <= target``.

    Returns (threshold, achieved rate, resolvable). The laxest such threshold maximises
    the positive acceptance rate. Shared by TAR@FAR and DIR@FPIR.
    """
    if target < 0:
        raise ValueError(f"rate target must be >= 0, got {target}")
    n = negatives.size
    neg_desc = np.sort(negatives)[::-1]
    allowed = int(np.floor(target * n + 1e-9))  # +eps: 0.3 * 10 must give 3, not 2
    if allowed >= n:
        threshold = float(candidates.min())  # every negative may be accepted: accept all
    else:
        # Anything above the (allowed+1)-th highest negative admits at most `allowed` of them.
        above = candidates[candidates > neg_desc[allowed]]
        threshold = float(above.min()) if above.size else float("inf")
    rate = float(np.mean(negatives >= threshold))
    return threshold, rate, target >= 1.0 / n - _EPS


# --------------------------------------------------------------------------- pair scores


def _rowwise(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"expected two (N, d) arrays of equal shape, got {x.shape} and {y.shape}")
    return x, y


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), _EPS)


def cosine_similarity_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rowwise cosine similarity of two (N, d) arrays -> (N,). A zero row scores 0."""
    x, y = _rowwise(a, b)
    return np.sum(l2_normalize(x) * l2_normalize(y), axis=1)


def euclidean_distance_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rowwise Euclidean distance of two (N, d) arrays -> (N,). Negate to use as a score."""
    x, y = _rowwise(a, b)
    return np.linalg.norm(x - y, axis=1)


# --------------------------------------------------------------------------- verification


def roc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve as (far, tar, thresholds), thresholds decreasing.

    Point i is ``score >= thresholds[i]``; ``thresholds[0]`` is +inf (accept nothing).
    Every distinct score is kept (no point dropping), so the curve is exact.
    """
    s, y = _scores_labels(scores, labels)
    _both_classes(y)
    far, tar, thr = skm.roc_curve(y, s, drop_intermediate=False)
    thr = thr.astype(np.float64)
    thr[0] = np.inf  # sklearn versions differ (max+1 vs inf); make it explicit
    return far, tar, thr


def auc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    s, y = _scores_labels(scores, labels)
    _both_classes(y)
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
    s, y = _scores_labels(scores, labels)
    _both_classes(y)
    genuine, impostor = s[y], s[~y]
    candidates = np.unique(s)
    out: dict[float, TarAtFar] = {}
    for target in far_targets:
        thr, far, ok = _threshold_at_rate(impostor, candidates, float(target))
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
    s, y = _scores_labels(scores, labels)
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
    s, y = _scores_labels(scores, labels)
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
    a, b = _rowwise(emb_a, emb_b)
    _, y = _scores_labels(np.zeros(a.shape[0]), labels)
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


# --------------------------------------------------------------------------- identification


def max_per_identity(score_matrix: np.ndarray, gallery_labels: Sequence | np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(sorted identities, (n_probes, n_identities) best score over each identity's gallery entries)."""
    m = np.asarray(score_matrix, dtype=np.float64)
    ids, g_idx = np.unique(np.asarray(gallery_labels).ravel(), return_inverse=True)
    order = np.argsort(g_idx, kind="stable")  # group gallery columns by identity
    starts = np.flatnonzero(np.r_[True, np.diff(g_idx[order]) != 0])
    return ids, np.maximum.reduceat(m[:, order], starts, axis=1)


def identification_ranks(score_matrix: np.ndarray, probe_labels: Sequence | np.ndarray,
                         gallery_labels: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (1-based) and score of the correct identity for each probe.

    ``score_matrix`` is (n_probes, n_gallery), higher = better match. Several gallery
    entries may share an identity; an identity scores the max over its entries and ranks
    are over identities. Ties are counted against the probe (pessimistic rank).
    Raises ValueError if a probe's identity is not in the gallery (closed set).
    Returns (ranks int (n_probes,), correct-identity scores (n_probes,)).
    """
    m = np.asarray(score_matrix, dtype=np.float64)
    p = np.asarray(probe_labels).ravel()
    g = np.asarray(gallery_labels).ravel()
    if m.ndim != 2 or m.shape != (p.size, g.size):
        raise ValueError(f"score_matrix shape {m.shape} != (n_probes={p.size}, n_gallery={g.size})")
    ids, per_id = max_per_identity(m, g)
    pos = np.searchsorted(ids, p)
    pos_c = np.minimum(pos, ids.size - 1)
    absent = ids[pos_c] != p
    if absent.any():
        raise ValueError(f"probe identities not in gallery: {sorted(set(p[absent].tolist()))[:5]}")
    correct = per_id[np.arange(p.size), pos_c]
    # Others scoring >= the correct identity; the correct identity itself counts once.
    ranks = (per_id >= correct[:, None]).sum(axis=1)
    return ranks.astype(int), correct


def cmc(score_matrix: np.ndarray, probe_labels: Sequence | np.ndarray,
        gallery_labels: Sequence | np.ndarray, max_rank: int | None = None) -> np.ndarray:
    """Cumulative match characteristic: ``out[k-1]`` = fraction of probes with rank <= k.

    ``max_rank`` defaults to the number of gallery identities.
    """
    ranks, _ = identification_ranks(score_matrix, probe_labels, gallery_labels)
    n_ids = np.unique(np.asarray(gallery_labels)).size
    r = n_ids if max_rank is None else int(max_rank)
    if r < 1:
        raise ValueError("max_rank must be >= 1")
    return np.array([np.mean(ranks <= k) for k in range(1, r + 1)])


def top_k_accuracy(score_matrix: np.ndarray, probe_labels: Sequence | np.ndarray,
                   gallery_labels: Sequence | np.ndarray, k: int = 1) -> float:
    """Fraction of probes whose correct identity is within the top ``k`` identities."""
    return float(cmc(score_matrix, probe_labels, gallery_labels, max_rank=k)[k - 1])


def dir_at_fpir(mated_scores: Sequence[float] | np.ndarray,
                mated_rank1: Sequence[bool] | np.ndarray,
                nonmated_scores: Sequence[float] | np.ndarray,
                fpir_targets: Sequence[float] = (1e-1, 1e-2, 1e-3)) -> dict[float, DirAtFpir]:
    """Open-set identification: DIR at FPIR targets, as in NIST FRVT 1:N.

    - ``mated_scores``: per mated probe (identity enrolled), the score of its correct
      identity; ``mated_rank1``: whether that identity was ranked first.
    - ``nonmated_scores``: per non-mated probe (identity not enrolled), its top score.

    The threshold for each target is the laxest one with FPIR = fraction of non-mated
    top scores >= threshold <= target; DIR = fraction of mated probes that are rank 1
    and score >= threshold. Targets below 1/n_nonmated are flagged ``resolvable=False``.
    Use :func:`identification_ranks` to get the mated inputs (rank == 1).
    """
    ms = np.asarray(mated_scores, dtype=np.float64).ravel()
    r1 = np.asarray(mated_rank1, dtype=bool).ravel()
    ns = np.asarray(nonmated_scores, dtype=np.float64).ravel()
    if ms.shape != r1.shape:
        raise ValueError("mated_scores and mated_rank1 differ in length")
    if ms.size == 0 or ns.size == 0:
        raise ValueError("need at least one mated and one non-mated probe")
    candidates = np.unique(np.concatenate([ms, ns]))
    out: dict[float, DirAtFpir] = {}
    for target in fpir_targets:
        thr, fpir, ok = _threshold_at_rate(ns, candidates, float(target))
        out[target] = DirAtFpir(dir=float(np.mean(r1 & (ms >= thr))), threshold=thr, fpir=fpir,
                                resolvable=ok)
    return out


# --------------------------------------------------------------------------- uncertainty


def bootstrap_ci(metric_fn: Callable[[np.ndarray, np.ndarray], float],
                 scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray,
                 n: int = 1000, alpha: float = 0.05, seed: int = 0) -> BootstrapCI:
    """Percentile bootstrap CI of ``metric_fn(scores, labels)``.

    Genuine and impostor pairs are resampled separately (stratified), so every resample
    keeps both classes and their counts. Pairs are treated as independent, which LFW
    pairs only roughly are (identities repeat), so the interval is optimistic.
    """
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    s, y = _scores_labels(scores, labels)
    _both_classes(y)
    rng = np.random.default_rng(seed)
    gen_idx, imp_idx = np.flatnonzero(y), np.flatnonzero(~y)
    stats = np.empty(n)
    for i in range(n):
        idx = np.concatenate([rng.choice(gen_idx, gen_idx.size), rng.choice(imp_idx, imp_idx.size)])
        stats[i] = metric_fn(s[idx], y[idx])
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return BootstrapCI(estimate=float(metric_fn(s, y)), low=float(low), high=float(high),
                       alpha=alpha, n=n)
