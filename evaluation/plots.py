"""PNG charts for evaluation reports (ROC, DET, score distributions, CMC, open-set DIR/FPIR).

Plain matplotlib, no Django and no pyplot: each call builds its own Figure on an Agg canvas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "Curve",
    "cmc_plot",
    "det_plot",
    "dir_fpir_plot",
    "downsample_curve",
    "roc_plot",
    "score_distribution_plot",
]

_FIGSIZE_IN = (6.4, 4.8)
_DPI = 100
_DEFAULT_FLOOR = 1e-5  # log-axis floor when a curve has no positive rate at all
_HIST_BINS = 50
_LOG_RANKS_ABOVE = 50  # CMC x axis turns logarithmic beyond this many ranks


@dataclass(frozen=True, eq=False)  # eq=False: arrays make == ambiguous and hashing fail
class Curve:
    """One labelled line: ``x`` and ``y`` of equal length (converted to float arrays)."""

    label: str
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=np.float64).ravel()
        y = np.asarray(self.y, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"curve {self.label!r}: x and y differ in length: "
                             f"{x.size} vs {y.size}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)


# --------------------------------------------------------------------------- downsampling


def downsample_curve(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                     max_points: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a curve whose ``x`` is monotone, for storage and plots.

    Keeps the first and last points and, for x values spaced evenly on a log axis and on a
    linear axis, the first point at or past each value together with the point before it
    (so steps such as the best TAR at FAR = 0 survive); the rest of the budget goes to
    points evenly spaced by index (all of it when ``x`` is not monotone). Deterministic;
    kept points stay in input order. Curves already short enough are returned as they are.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y differ in length: {xa.size} vs {ya.size}")
    if max_points < 2:
        raise ValueError(f"max_points must be >= 2, got {max_points}")
    n = xa.size
    if n <= max_points:
        return xa, ya

    diffs = np.diff(xa)
    ascending = bool(np.all(diffs >= 0))
    descending = not ascending and bool(np.all(diffs <= 0))
    per_grid = max(1, (max_points - 2) // 6)  # each x grid value may keep 2 points
    keep = [np.array([0, n - 1])]
    x_budget = 0
    if ascending or descending:
        xs = xa if ascending else xa[::-1]
        positive = xs[xs > 0]
        grids = [np.linspace(xs[0], xs[-1], per_grid)]
        if positive.size:
            grids.append(np.geomspace(positive[0], xs[-1], per_grid))
        x_budget = 2 * per_grid * len(grids)
        for grid in grids:
            first = np.clip(np.searchsorted(xs, grid, side="left"), 0, n - 1)
            idx = np.concatenate([first, np.maximum(first - 1, 0)])
            keep.append(idx if ascending else n - 1 - idx)
    keep.append(np.linspace(0, n - 1, max(max_points - 2 - x_budget, 1)).round().astype(int))
    idx = np.unique(np.concatenate(keep))
    if idx.size > max_points:
        # Budgets too small for the grids (under 8 points): thin evenly, keeping the ends.
        idx = idx[np.linspace(0, idx.size - 1, max_points).round().astype(int)]
    return xa[idx], ya[idx]


# --------------------------------------------------------------------------- shared drawing


def _new_axes(title: str, xlabel: str, ylabel: str):
    # A Figure not registered with pyplot: nothing global to close, safe per worker thread.
    fig = Figure(figsize=_FIGSIZE_IN, dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.4)
    return fig, ax


def _save(fig: Figure, path: Path | str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        fig.clear()  # free the artists now rather than at garbage collection
    return out


def _log_floor(values: Sequence[np.ndarray], extra: Sequence[float] = ()) -> float:
    """Where zeros are drawn on a log axis: a decade below the smallest positive value.

    The smallest positive empirical rate is about 1/n, so this is about 1/(10 n).
    """
    pooled = np.concatenate([*values, np.asarray(extra, dtype=np.float64)])
    positive = pooled[np.isfinite(pooled) & (pooled > 0)]
    return float(positive.min()) / 10 if positive.size else _DEFAULT_FLOOR


def _labels(curves: Sequence[Curve]) -> list[str]:
    # Several unlabelled curves still need telling apart in the legend.
    return [c.label or (f"curve {i + 1}" if len(curves) > 1 else "") for i, c in enumerate(curves)]


def _legend(ax, curves: Sequence[Curve]) -> None:
    if len(curves) > 1 or any(c.label for c in curves):
        ax.legend(loc="best", fontsize="small")


def _no_data(ax) -> None:
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")


def _rate_vs_log_rate(curves: Sequence[Curve], path: Path | str, *, title: str, xlabel: str,
                      ylabel: str, marks: Sequence[float] = ()) -> Path:
    """A rate (0..1) against a log-scale rate, as ROC and DIR/FPIR are drawn."""
    fig, ax = _new_axes(title, xlabel, ylabel)
    drawn = [c for c in curves if c.x.size]
    marks = [float(m) for m in marks if 0 < m < 1]
    # Zero rates cannot sit on a log axis: draw them at a floor a decade below the smallest
    # positive rate or mark. Marks below 1/n then show the conservative TAR at rate 0, as
    # metrics.tar_at_far reports for targets it cannot resolve.
    floor = _log_floor([c.x for c in drawn], marks)
    for curve, label in zip(drawn, _labels(drawn)):
        ax.plot(np.maximum(curve.x, floor), curve.y, label=label, linewidth=1.5)
    for m in marks:
        ax.axvline(m, linestyle=":", color="0.4", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0.0, 1.01)  # a hair above 1 so a curve at 1.0 is not cut in half
    if drawn:
        _legend(ax, drawn)
    else:
        _no_data(ax)
    return _save(fig, path)


# --------------------------------------------------------------------------- charts


def roc_plot(curves: Sequence[Curve], path: Path | str, *,
             far_marks: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1), title: str = "ROC") -> Path:
    """ROC: TAR (``Curve.y``) against FAR (``Curve.x``, log scale), dotted lines at far_marks."""
    return _rate_vs_log_rate(curves, path, title=title, xlabel="FAR (false accept rate)",
                             ylabel="TAR (true accept rate)", marks=far_marks)


def det_plot(curves: Sequence[Curve], path: Path | str, *, title: str = "DET") -> Path:
    """DET: FRR (``Curve.y``, i.e. 1 - TAR) against FAR (``Curve.x``), both on log scales."""
    fig, ax = _new_axes(title, "FAR / FMR (false accept rate)", "FRR / FNMR (false reject rate)")
    drawn = [c for c in curves if c.x.size]
    # Zeros on either log axis are drawn at a floor a decade below its smallest positive value.
    x_floor = _log_floor([c.x for c in drawn])
    y_floor = _log_floor([c.y for c in drawn])
    for curve, label in zip(drawn, _labels(drawn)):
        ax.plot(np.maximum(curve.x, x_floor), np.maximum(curve.y, y_floor), label=label,
                linewidth=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_floor, 1.0)
    ax.set_ylim(y_floor, 1.0)
    if drawn:
        _legend(ax, drawn)
    else:
        _no_data(ax)
    return _save(fig, path)


def score_distribution_plot(genuine: Sequence[float] | np.ndarray,
                            impostor: Sequence[float] | np.ndarray, path: Path | str, *,
                            thresholds: Mapping[str, float] | None = None,
                            title: str = "Score distributions",
                            xlabel: str = "cosine similarity",
                            labels: tuple[str, str] = ("genuine", "impostor")) -> Path:
    """Overlaid density histograms of genuine and impostor scores, one line per threshold.

    `labels` renames the two sides (e.g. mated / non-mated probes of an open-set report).

    Non-finite scores are dropped, an empty side is simply not drawn, and non-finite
    thresholds (e.g. +inf, "accept nothing") are skipped.
    """
    fig, ax = _new_axes(title, xlabel, "density")
    sides = []
    for name, scores, color in ((labels[0], genuine, "tab:green"),
                                (labels[1], impostor, "tab:red")):
        s = np.asarray(scores, dtype=np.float64).ravel()
        s = s[np.isfinite(s)]
        if s.size:
            sides.append((f"{name} (n={s.size})", s, color))
    if sides:
        # Shared bin edges so the two densities are comparable bar for bar.
        edges = np.histogram_bin_edges(np.concatenate([s for _, s, _ in sides]), bins=_HIST_BINS)
        for label, s, color in sides:
            ax.hist(s, bins=edges, density=True, alpha=0.5, color=color, label=label)
    else:
        _no_data(ax)
    styles = ("--", "-.", ":", (0, (5, 1, 1, 1)))
    finite = [(n, float(t)) for n, t in (thresholds or {}).items() if np.isfinite(float(t))]
    for i, (name, value) in enumerate(finite):
        ax.axvline(value, color="0.2", linestyle=styles[i % len(styles)], linewidth=1.2,
                   label=f"{name} ({value:.3f})")
    if sides or finite:
        ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def cmc_plot(curves: Sequence[Curve], path: Path | str, *, title: str = "CMC") -> Path:
    """CMC: identification rate (``Curve.y``) against rank (``Curve.x``, 1-based).

    Ranks are integer ticks; beyond 50 ranks the axis turns logarithmic.
    """
    fig, ax = _new_axes(title, "rank", "identification rate")
    drawn = [c for c in curves if c.y.size]
    max_rank = 1.0
    for curve, label in zip(drawn, _labels(drawn)):
        ranks = curve.x if np.all(curve.x >= 1) else np.arange(1, curve.y.size + 1)
        max_rank = max(max_rank, float(ranks.max()))
        ax.plot(ranks, curve.y, label=label, linewidth=1.5,
                marker="o" if curve.y.size <= 20 else None, markersize=4)
    if max_rank > _LOG_RANKS_ABOVE:
        ax.set_xscale("log")
        ax.set_xlim(1, max_rank)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, max_rank + 0.5)
    ax.set_ylim(0.0, 1.01)
    if drawn:
        _legend(ax, drawn)
    else:
        _no_data(ax)
    return _save(fig, path)


def dir_fpir_plot(curves: Sequence[Curve], path: Path | str, *,
                  title: str = "Open-set DIR vs FPIR") -> Path:
    """Open-set identification: DIR (``Curve.y``) against FPIR (``Curve.x``, log scale)."""
    return _rate_vs_log_rate(curves, path, title=title,
                             xlabel="FPIR (false positive identification rate)",
                             ylabel="DIR (detection and identification rate)")
