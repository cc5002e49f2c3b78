"""Closed-set identification by k-fold over photos, by similarity and by the platform's SVM (no Django)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold

from evaluation import metrics
from evaluation.protocols.common import (TOP_K, LabelledEmbeddings, Progress, ProtocolResult, finite, no_progress,
                                         no_scorer)
from recognition.pipeline.classifier import NotEnoughIdentities



def fit_classifier(classifier_factory, gallery: LabelledEmbeddings):
    """The SVM trained on `gallery` as the platform trains it, or None when it cannot train."""
    if classifier_factory is None:
        return None
    try:
        return classifier_factory().fit(gallery.embeddings, gallery.labels)
    except NotEnoughIdentities:
        return None


def _svm_decisions(model, probes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Decision value of each gallery identity (columns in `ids` order); -inf for one it left out."""
    rows = model.rows_for(ids)
    all_decisions = model.decision_function(probes)
    return np.where(rows >= 0, all_decisions[:, np.maximum(rows, 0)], -np.inf)


def _method_figures(ranks: np.ndarray, n_ids: int) -> dict:
    cmc = np.array([np.mean(ranks <= k) for k in range(1, n_ids + 1)])
    return {**{f"top{k}": float(cmc[min(k, n_ids) - 1]) for k in TOP_K}, "cmc": cmc[:50].tolist()}


def kfold_identification(data: LabelledEmbeddings, *, k: int = 5, min_photos: int = 3,
                         classifier_factory=None, scorer=None, seed: int = 0, progress: Progress = no_progress
                         ) -> ProtocolResult:
    """Closed-set identification by k-fold over photos, every fold's gallery enrolled afresh.

    Identities with fewer than `min_photos` photos are left out and listed. Each fold
    holds out about 1/k of every identity's photos as probes; the rest is the gallery.
    Two rankings: nearest template (the calibrated similarity of `scorer`) and the SVM
    retrained on the fold's gallery, over every identity.
    """
    scorer = scorer or no_scorer()
    counts = data.counts()
    excluded = {label: n for label, n in counts.items() if n < min_photos}
    kept = data.subset(~np.isin(data.labels, list(excluded)))
    if len(set(kept.labels.tolist())) < 2:
        raise ValueError(f"need at least two identities with {min_photos}+ photos, "
                         f"have {len(set(kept.labels.tolist()))}")
    n_splits = int(min(k, min(kept.counts().values())))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    ranks: dict[str, list[np.ndarray]] = {"nearest_neighbour": [], "svm": []}
    fold_top1: dict[str, list[float]] = {m: [] for m in ranks}
    n_ids = len(set(kept.labels.tolist()))
    projected = scorer.project(kept.embeddings)
    for fold, (train, test) in enumerate(splitter.split(kept.embeddings, kept.labels)):
        gallery = kept.subset(np.isin(np.arange(len(kept)), train))
        probes = kept.subset(np.isin(np.arange(len(kept)), test))
        ids, nn = metrics.max_per_identity(projected[test] @ projected[train].T, gallery.labels)
        matrices = {"nearest_neighbour": nn}
        model = fit_classifier(classifier_factory, gallery)
        if model is not None:
            matrices["svm"] = _svm_decisions(model, probes.embeddings, ids)
        for method, matrix in matrices.items():
            r, _ = metrics.identification_ranks(matrix, probes.labels, ids)
            ranks[method].append(r)
            fold_top1[method].append(float(np.mean(r == 1)))
        progress((fold + 1) / n_splits, f"identification fold {fold + 1} of {n_splits}")
    methods = {}
    for method, parts in ranks.items():
        if not parts:
            continue
        r = np.concatenate(parts)
        methods[method] = {**_method_figures(r, n_ids), "top1_fold_std": float(np.std(fold_top1[method])),
                           "probes": int(r.size)}
    result = {"folds": n_splits, "identities": n_ids, "photos": len(kept), "min_photos": min_photos,
              "methods": methods,
              "excluded_identities": [{"identity": label, "photos": n} for label, n in sorted(excluded.items())]}
    arrays = {f"cmc_{m}": np.array(v["cmc"]) for m, v in methods.items()}
    return ProtocolResult(metrics=finite(result), arrays=arrays)
