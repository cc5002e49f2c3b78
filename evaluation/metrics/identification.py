"""Identification (1:N) metrics: ranks, CMC, top-k, and open-set DIR at FPIR (no Django)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.metrics.scores import threshold_at_rate


@dataclass(frozen=True)
class DirAtFpir:
    """Open-set DIR at one FPIR target (``resolvable`` as in :class:`TarAtFar`)."""

    dir: float
    threshold: float
    fpir: float  # empirical FPIR actually achieved at ``threshold``
    resolvable: bool


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
        thr, fpir, ok = threshold_at_rate(ns, candidates, float(target))
        out[target] = DirAtFpir(dir=float(np.mean(r1 & (ms >= thr))), threshold=thr, fpir=fpir,
                                resolvable=ok)
    return out
