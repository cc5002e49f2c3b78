"""evaluation.plots writes readable PNGs and downsamples curves without losing their ends."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from evaluation import metrics as m
from evaluation import plots as p

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert height > 100 and width > 100


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    genuine = np.clip(rng.normal(0.6, 0.12, 300), -1, 1)
    impostor = np.clip(rng.normal(0.1, 0.12, 3000), -1, 1)
    return genuine, impostor


@pytest.fixture
def roc_curve(scores):
    genuine, impostor = scores
    labels = np.r_[np.ones(genuine.size, bool), np.zeros(impostor.size, bool)]
    far, tar, _ = m.roc(np.r_[genuine, impostor], labels)
    return far, tar


# --------------------------------------------------------------------------- charts


def test_roc_plot_writes_png_in_new_directory(tmp_path, roc_curve):
    far, tar = roc_curve
    out = p.roc_plot([p.Curve("model A", far, tar), p.Curve("model B", far, tar ** 2)],
                     tmp_path / "nested" / "dir" / "roc.png")
    assert out == tmp_path / "nested" / "dir" / "roc.png"
    assert_png(out)


def test_roc_plot_accepts_a_string_path_and_an_unlabelled_curve(tmp_path, roc_curve):
    far, tar = roc_curve
    out = p.roc_plot([p.Curve("", far, tar)], str(tmp_path / "roc.png"))
    assert_png(out)


def test_roc_plot_draws_zero_far_on_its_log_axis(tmp_path):
    # Every point but the last sits at FAR = 0, which a log axis cannot show as such.
    far = np.array([0.0, 0.0, 0.0, 1.0])
    tar = np.array([0.0, 0.5, 0.9, 1.0])
    assert_png(p.roc_plot([p.Curve("zeros", far, tar)], tmp_path / "roc.png"))


def test_roc_plot_of_no_curves_still_writes_a_png(tmp_path):
    assert_png(p.roc_plot([], tmp_path / "empty.png"))


def test_det_plot_writes_png_with_zero_rates(tmp_path, roc_curve):
    far, tar = roc_curve
    frr = 1 - tar  # ends at 0 where FAR reaches 1; starts at FAR 0
    assert far[0] == 0 and frr[-1] == 0
    assert_png(p.det_plot([p.Curve("model", far, frr)], tmp_path / "det.png"))


def test_score_distribution_plot_marks_thresholds(tmp_path, scores):
    genuine, impostor = scores
    thresholds = {"FAR 1e-3": 0.45, "EER": 0.35}
    assert_png(p.score_distribution_plot(genuine, impostor, tmp_path / "dist.png",
                                         thresholds=thresholds))


def test_score_distribution_plot_skips_infinite_threshold(tmp_path, scores):
    genuine, impostor = scores
    out = p.score_distribution_plot(genuine, impostor, tmp_path / "dist.png",
                                    thresholds={"FAR 1e-6": float("inf"), "EER": 0.35})
    assert_png(out)


def test_score_distribution_plot_draws_whichever_side_has_scores(tmp_path, scores):
    genuine, _ = scores
    assert_png(p.score_distribution_plot(genuine, [], tmp_path / "genuine_only.png"))
    assert_png(p.score_distribution_plot([], [], tmp_path / "none.png",
                                         thresholds={"only": -np.inf}))


def test_cmc_plot_writes_png_for_few_and_many_ranks(tmp_path):
    few = np.array([0.7, 0.85, 0.9, 0.95, 1.0])
    assert_png(p.cmc_plot([p.Curve("gallery", np.arange(1, 6), few)], tmp_path / "few.png"))
    many = np.minimum(1.0, 0.5 + np.log1p(np.arange(200)) / 10)
    assert_png(p.cmc_plot([p.Curve("a", np.arange(1, 201), many),
                           p.Curve("b", np.zeros(200), many * 0.9)], tmp_path / "many.png"))


def test_dir_fpir_plot_writes_png(tmp_path):
    fpir = np.array([0.0, 0.001, 0.01, 0.1, 1.0])
    dir_ = np.array([0.2, 0.5, 0.7, 0.85, 0.9])
    assert_png(p.dir_fpir_plot([p.Curve("open set", fpir, dir_)], tmp_path / "dir.png"))


def test_curve_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        p.Curve("bad", np.zeros(3), np.zeros(4))


# --------------------------------------------------------------------------- downsampling


def test_downsample_keeps_endpoints_and_budget(roc_curve):
    far, tar = roc_curve
    assert far.size > 500
    x, y = p.downsample_curve(far, tar, max_points=100)
    assert x.size == y.size <= 100
    assert (x[0], y[0], x[-1], y[-1]) == (far[0], tar[0], far[-1], tar[-1])


def test_downsample_keeps_monotone_curves_monotone():
    rng = np.random.default_rng(1)
    far = np.r_[0.0, 0.0, np.sort(rng.random(80_000))]
    tar = np.sort(rng.random(far.size))
    x, y = p.downsample_curve(far, tar)
    assert x.size <= 500
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= 0)
    # The last FAR = 0 point (best TAR with no false accepts) survives.
    assert y[x == 0].max() == tar[1]


def test_downsample_keeps_points_at_low_far_on_a_log_axis():
    far = np.linspace(0, 1, 6000)  # linear sampling alone would skip the low decades
    tar = np.sqrt(far)
    x, _ = p.downsample_curve(far, tar, max_points=60)
    assert np.any((x > 0) & (x < 1e-3))


def test_downsample_handles_decreasing_x():
    x_in = np.linspace(1, 0, 5000)
    x, y = p.downsample_curve(x_in, 1 - x_in, max_points=50)
    assert x.size <= 50 and x[0] == 1 and x[-1] == 0
    assert np.all(np.diff(x) <= 0)


def test_downsample_returns_short_curve_unchanged():
    x_in, y_in = np.array([0.0, 0.1, 1.0]), np.array([0.2, 0.8, 1.0])
    x, y = p.downsample_curve(x_in, y_in, max_points=3)
    np.testing.assert_array_equal(x, x_in)
    np.testing.assert_array_equal(y, y_in)


def test_downsample_respects_tiny_budget():
    x, y = p.downsample_curve(np.arange(10.0), np.arange(10.0), max_points=2)
    np.testing.assert_array_equal(x, [0, 9])
