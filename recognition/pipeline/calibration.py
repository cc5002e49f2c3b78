"""Score calibration: what a similarity means for strangers, whatever the gallery's size.

One impostor similarity distribution, measured once per set of weights on photos of
different people (LFW's people with a single photo: 4,070 photos, 8.3 million pairs)
and shipped beside the code (`calibrations/<model version>.json`), turns a cosine
similarity into a false-accept rate for *one* pair, F(s). Both decisions build on it:

- Similarities are taken after subtracting the mean face embedding of that set and
  re-normalising (the published protocol for these weights; it spreads strangers
  apart: on LFW View 2 98.95% against 98.67%).
- A probe meets n templates at once (every template of a gallery in identify, the
  claimed person's templates in verify), so the chance that a stranger's best match
  reaches s is 1 - (1 - F(s))^n. The *score* answered and thresholded is the
  similarity one single pair would need to be as rare: score = F^-1(1 - (1 - F(s))^n).
  A threshold on it is a false-accept (or false-positive identification) rate that
  holds whatever n is: the default identify threshold is F^-1(target FPIR), the
  default verify threshold F^-1(target FAR).

Below the rates the pairs resolve (about 100 pairs above the threshold) the tail is
extrapolated from a quadratic fit of log10 F(s) over the resolved tail, so a gallery
of 500,000 templates still has a threshold (about 0.83 for FPIR 1%).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATIONS_DIR = Path(__file__).with_name("calibrations")
GRID_STEP = 0.005
MIN_TAIL_PAIRS = 100  # below this many pairs over a threshold, F(s) comes from the tail fit
FIT_MAX_FAR = 1e-2  # the tail fit uses F(s) between the resolved floor and this rate


@dataclass(frozen=True)
class ScoreCalibration:
    """F(s) per pair on a similarity grid, for embeddings projected by `project`."""

    model_version: str
    mean: np.ndarray  # (d,) subtracted from every embedding before the cosine
    similarities: np.ndarray  # ascending grid
    log10_far: np.ndarray  # per-pair FAR at each grid point (non-increasing)
    pairs: int
    source: str

    # ------------------------------------------------------------------ embeddings

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Unit vectors of (embedding - mean): cosines of these are the calibrated similarities."""
        x = np.asarray(embeddings, dtype=np.float32) - self.mean
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    def similarity_from_raw(self, raw: np.ndarray, probe_dot_mean: float | np.ndarray,
                            template_dot_mean: np.ndarray) -> np.ndarray:
        """The projected cosine from the raw one, for unit vectors x and t.

        (x - m).(t - m) = x.t - x.m - t.m + m.m, and |x - m|^2 = 1 - 2 x.m + m.m: the
        database returns x.t and t.m per template, so no vector has to leave it.
        """
        mm = float(self.mean @ self.mean)
        raw, xm, tm = (np.asarray(v, dtype=np.float64) for v in (raw, probe_dot_mean, template_dot_mean))
        norms = np.sqrt(np.maximum(1.0 - 2.0 * xm + mm, 1e-12) * np.maximum(1.0 - 2.0 * tm + mm, 1e-12))
        return (raw - xm - tm + mm) / norms

    # ------------------------------------------------------------------ rates

    def pair_far(self, similarity: np.ndarray | float) -> np.ndarray:
        """False-accept rate of one impostor pair at `similarity`."""
        s = np.clip(np.asarray(similarity, dtype=np.float64), self.similarities[0], self.similarities[-1])
        return 10.0 ** np.interp(s, self.similarities, self.log10_far)

    def similarity_at_far(self, far: np.ndarray | float) -> np.ndarray:
        """The least similarity whose per-pair FAR is at most `far` (inverse of pair_far)."""
        target = np.log10(np.clip(np.asarray(far, dtype=np.float64), 1e-300, 1.0))
        # log10_far falls with the similarity: interpolate on the reversed arrays.
        return np.interp(-target, -self.log10_far, self.similarities)

    def gallery_far(self, similarity: np.ndarray | float, comparisons: int | np.ndarray) -> np.ndarray:
        """Chance that a stranger's best of `comparisons` impostor similarities reaches `similarity`."""
        f = np.minimum(self.pair_far(similarity), 1.0 - 1e-16)
        n = np.maximum(np.asarray(comparisons, dtype=np.float64), 1.0)
        return -np.expm1(n * np.log1p(-f))

    def score(self, similarity: np.ndarray | float, comparisons: int | np.ndarray) -> np.ndarray:
        """The single-pair similarity as rare among strangers as `similarity` is against n comparisons."""
        return self.similarity_at_far(self.gallery_far(similarity, comparisons))

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict:
        return {"model_version": self.model_version, "source": self.source, "pairs": self.pairs,
                "grid_step": GRID_STEP, "similarities": [round(float(s), 4) for s in self.similarities],
                "log10_far": [round(float(v), 5) for v in self.log10_far],
                "mean": [float(v) for v in self.mean.astype(np.float32)]}

    @classmethod
    def from_json(cls, doc: dict) -> ScoreCalibration:
        return cls(model_version=doc["model_version"], mean=np.asarray(doc["mean"], dtype=np.float32),
                   similarities=np.asarray(doc["similarities"], dtype=np.float64),
                   log10_far=np.asarray(doc["log10_far"], dtype=np.float64), pairs=int(doc["pairs"]),
                   source=doc["source"])

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path


def fit_calibration(embeddings: np.ndarray, *, model_version: str, source: str) -> ScoreCalibration:
    """Measure F(s) on unit embeddings of *different* people (one photo each), every pair an impostor pair."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) < 50:
        raise ValueError("calibration needs at least 50 embeddings of different people")
    mean = x.mean(axis=0)
    projected = x - mean
    projected /= np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)
    scores = np.sort((projected @ projected.T)[np.triu_indices(len(x), k=1)].astype(np.float64))
    grid = np.round(np.arange(-1.0, 1.0 + GRID_STEP / 2, GRID_STEP), 4)
    above = scores.size - np.searchsorted(scores, grid, side="left")  # pairs with similarity >= s
    far = above / scores.size
    resolved = above >= MIN_TAIL_PAIRS
    log10_far = np.full(grid.size, np.nan)
    log10_far[resolved] = np.log10(far[resolved])
    fit = resolved & (far <= FIT_MAX_FAR)
    if fit.sum() < 5:
        raise ValueError("too few impostor pairs to fit the tail: use more photos")
    coef = np.polyfit(grid[fit], np.log10(far[fit]), 2)
    tail = ~resolved
    log10_far[tail] = np.polyval(coef, grid[tail])
    # Non-increasing from left to right, and never above 1 (the fit may turn up past its range).
    log10_far = np.minimum.accumulate(np.minimum(log10_far, 0.0))
    return ScoreCalibration(model_version=model_version, mean=mean, similarities=grid, log10_far=log10_far,
                            pairs=int(scores.size), source=source)


def calibration_path(model_version: str) -> Path:
    return CALIBRATIONS_DIR / f"{model_version}.json"


def load_calibration(model_version: str) -> ScoreCalibration | None:
    """The shipped calibration of these weights, or None (other weights: uncalibrated scores)."""
    path = calibration_path(model_version)
    if not path.is_file():
        return None
    calibration = ScoreCalibration.from_json(json.loads(path.read_text()))
    return calibration if calibration.model_version == model_version else None
