"""Percentile bootstrap confidence intervals of any metric (no Django)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.metrics.scores import both_classes, scores_labels


@dataclass(frozen=True)
class BootstrapCI:
    """Percentile bootstrap confidence interval around a point estimate."""

    estimate: float
    low: float
    high: float
    alpha: float
    n: int


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
    s, y = scores_labels(scores, labels)
    both_classes(y)
    rng = np.random.default_rng(seed)
    gen_idx, imp_idx = np.flatnonzero(y), np.flatnonzero(~y)
    stats = np.empty(n)
    for i in range(n):
        idx = np.concatenate([rng.choice(gen_idx, gen_idx.size), rng.choice(imp_idx, imp_idx.size)])
        stats[i] = metric_fn(s[idx], y[idx])
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return BootstrapCI(estimate=float(metric_fn(s, y)), low=float(low), high=float(high),
                       alpha=alpha, n=n)
