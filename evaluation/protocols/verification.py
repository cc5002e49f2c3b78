"""Verification (1:1): all pairs of a labelled set, ROC / EER / TAR at FAR with bootstrap intervals, and
the same per attribute group (no Django)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluation import metrics
from evaluation.plots import downsample_curve
from evaluation.protocols.common import FAR_TARGETS, LabelledEmbeddings, ProtocolResult, far_key, finite

MAX_BOOTSTRAP_PAIRS = 200_000  # above this, confidence intervals cost more than they tell



def all_pairs(data: LabelledEmbeddings, *, max_impostor_pairs: int = 500_000, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every genuine pair, and every impostor pair or a seeded sample of them.

    Returns (index_a, index_b, scores, same). Sampling keeps the cost flat for a large
    gallery; the number of impostor pairs bounds the lowest FAR that can be resolved.
    """
    n = len(data)
    if n < 2:
        raise ValueError("need at least two embeddings to build pairs")
    labels = data.labels
    order = np.argsort(labels, kind="stable")
    genuine_a, genuine_b = [], []
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends):
        members = order[s:e]
        if members.size > 1:
            ia, ib = np.triu_indices(members.size, k=1)
            genuine_a.append(members[ia])
            genuine_b.append(members[ib])
    ga = np.concatenate(genuine_a) if genuine_a else np.zeros(0, int)
    gb = np.concatenate(genuine_b) if genuine_b else np.zeros(0, int)

    n_total = n * (n - 1) // 2
    n_impostor = n_total - ga.size
    if n_impostor <= max_impostor_pairs:
        ia, ib = np.triu_indices(n, k=1)
        keep = labels[ia] != labels[ib]
        ia, ib = ia[keep], ib[keep]
    else:
        rng = np.random.default_rng(seed)
        chunks, have = [], 0
        while have < max_impostor_pairs:
            a = rng.integers(0, n, size=2 * max_impostor_pairs)
            b = rng.integers(0, n, size=2 * max_impostor_pairs)
            keep = labels[a] != labels[b]
            pairs = np.unique(np.sort(np.stack([a[keep], b[keep]], axis=1), axis=1), axis=0)
            chunks.append(pairs)
            have = np.unique(np.concatenate(chunks), axis=0).shape[0]
        pairs = np.unique(np.concatenate(chunks), axis=0)
        pairs = pairs[rng.permutation(len(pairs))[:max_impostor_pairs]]
        ia, ib = pairs[:, 0], pairs[:, 1]
    index_a = np.concatenate([ga, ia]).astype(int)
    index_b = np.concatenate([gb, ib]).astype(int)
    same = np.concatenate([np.ones(ga.size, bool), np.zeros(ia.size, bool)])
    scores = metrics.cosine_similarity_pairs(data.embeddings[index_a], data.embeddings[index_b])
    return index_a, index_b, scores, same


def random_folds(same: np.ndarray, k: int = 10, seed: int = 0) -> np.ndarray:
    """Fold id per pair, genuine and impostor pairs spread evenly over `k` folds."""
    rng = np.random.default_rng(seed)
    folds = np.empty(same.size, int)
    for cls in (True, False):
        idx = np.flatnonzero(same == cls)
        folds[idx] = rng.permutation(idx.size) % k
    return folds


def verification(scores: np.ndarray, same: np.ndarray, *, folds: np.ndarray | None = None,
                 target_far: float = 1e-3, far_targets: Sequence[float] = FAR_TARGETS,
                 bootstrap: int = 200, seed: int = 0) -> ProtocolResult:
    """ROC, AUC, EER, TAR@FAR, k-fold accuracy and the recommended thresholds for `scores`.

    `folds` gives a fold per pair (LFW's ten); without it pairs are spread over ten
    random folds. The threshold recommendation is the laxest one whose FAR on these
    impostor pairs is at most `target_far`, plus the EER threshold.
    """
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError("verification needs both genuine and impostor pairs")
    targets = sorted(set(far_targets) | {target_far}, reverse=True)
    far, tar, thr = metrics.roc(scores, same)
    eer, eer_threshold = metrics.eer(scores, same)
    tars = metrics.tar_at_far(scores, same, targets)
    kfold = metrics.kfold_verification_accuracy(
        scores, same, folds if folds is not None else random_folds(same, seed=seed))
    auc = metrics.auc(scores, same)
    ci = {}
    if bootstrap and scores.size <= MAX_BOOTSTRAP_PAIRS:
        ci["auc"] = metrics.bootstrap_ci(metrics.auc, scores, same, n=bootstrap, seed=seed)
        ci["eer"] = metrics.bootstrap_ci(lambda s, y: metrics.eer(s, y)[0], scores, same, n=bootstrap, seed=seed)
    recommended = tars[target_far]
    roc_far, roc_tar = downsample_curve(far, tar)
    result = {
        "pairs": {"genuine": int(same.sum()), "impostor": int((~same).sum())},
        "auc": auc,
        "eer": eer,
        "eer_threshold": eer_threshold,
        "tar_at_far": {far_key(t): {"tar": r.tar, "threshold": r.threshold, "far": r.far,
                                    "resolvable": r.resolvable} for t, r in tars.items()},
        "accuracy": {"mean": kfold.mean, "std": kfold.std, "folds": len(kfold.folds),
                     "fold_accuracies": kfold.accuracies.tolist()},
        "confidence_intervals": {name: {"low": c.low, "high": c.high, "level": 1 - c.alpha, "resamples": c.n}
                                 for name, c in ci.items()},
        "recommended": {"target_far": target_far, "threshold": recommended.threshold,
                        "far": recommended.far, "tar": recommended.tar, "resolvable": recommended.resolvable,
                        "eer_threshold": eer_threshold},
        "roc": {"far": roc_far.tolist(), "tar": roc_tar.tolist()},
    }
    return ProtocolResult(metrics=finite(result), arrays={
        "genuine": scores[same], "impostor": scores[~same], "far": far, "tar": tar})


def breakdown_by_attribute(data: LabelledEmbeddings, index_a: np.ndarray, index_b: np.ndarray,
                           scores: np.ndarray, same: np.ndarray, *, threshold: float | None,
                           target_far: float = 1e-3, min_pairs: int = 10) -> dict:
    """Verification figures per attribute value, so a gap between groups is visible.

    A pair counts for a value when both photos' identities carry it (impostors within
    the group, as demographic FMR is usually measured). Besides each group's own ROC
    figures, the FAR and FRR at the platform-wide `threshold` show who pays for it.
    """
    if not data.attributes:
        return {}
    labels = data.labels
    keys = sorted({k for attrs in data.attributes.values() for k in attrs})
    out: dict = {}
    for key in keys:
        value_of = np.array([data.attributes.get(label, {}).get(key, "") for label in labels])
        va, vb = value_of[index_a], value_of[index_b]
        groups = {}
        for value in sorted(set(value_of.tolist()) - {""}):
            mask = (va == value) & (vb == value)
            s, y = scores[mask], same[mask]
            entry: dict = {"identities": int(len({label for label in labels[value_of == value]})),
                           "genuine_pairs": int(y.sum()), "impostor_pairs": int((~y).sum())}
            if y.sum() >= min_pairs and (~y).sum() >= min_pairs:
                e, _ = metrics.eer(s, y)
                t = metrics.tar_at_far(s, y, [target_far])[target_far]
                entry.update(auc=metrics.auc(s, y), eer=e, tar_at_target_far=t.tar,
                             tar_resolvable=t.resolvable)
                if threshold is not None and np.isfinite(threshold):
                    entry.update(far_at_threshold=float(np.mean(s[~y] >= threshold)),
                                 frr_at_threshold=float(np.mean(s[y] < threshold)))
            else:
                entry["note"] = f"fewer than {min_pairs} genuine or impostor pairs: figures left out"
            groups[value] = entry
        out[key] = groups
    return finite(out)
