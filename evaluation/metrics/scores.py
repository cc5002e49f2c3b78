"""Score arrays: their checks, pair scores, and the threshold that keeps a rate (no Django)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPS = 1e-12  # guards divisions by a zero norm and float noise in rate comparisons


def scores_labels(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
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


def both_classes(y: np.ndarray) -> None:
    if y.all() or not y.any():
        raise ValueError("need at least one genuine (True) and one impostor (False) label")


def threshold_at_rate(negatives: np.ndarray, candidates: np.ndarray, target: float
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
    return threshold, rate, target >= 1.0 / n - EPS


# --------------------------------------------------------------------------- pair scores


def rowwise(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"expected two (N, d) arrays of equal shape, got {x.shape} and {y.shape}")
    return x, y


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


def cosine_similarity_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rowwise cosine similarity of two (N, d) arrays -> (N,). A zero row scores 0."""
    x, y = rowwise(a, b)
    return np.sum(l2_normalize(x) * l2_normalize(y), axis=1)


def euclidean_distance_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rowwise Euclidean distance of two (N, d) arrays -> (N,). Negate to use as a score."""
    x, y = rowwise(a, b)
    return np.linalg.norm(x - y, axis=1)
