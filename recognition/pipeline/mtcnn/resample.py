"""MTCNN's resampling, exact: torch's ``interpolate(mode='area')`` (adaptive average pooling)
computed from one integral image per image, bit-identical to torch, for the image pyramid and
for the R-Net/O-Net patches alike; inputs come out in the networks' ``(x - 127.5) / 128`` scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pyramid_scales(height: int, width: int, min_face_size: float, factor: float) -> list[float]:
    """Scales at which a min_face_size face becomes P-Net's 12 px cell, while the image
    stays at least 12 px (detect_face's loop, in the same float arithmetic)."""
    m = 12.0 / min_face_size
    minl = min(height, width) * m
    scales = []
    scale = m
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor
    return scales


def integral_images(images: Sequence[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """(B, H+1, W+1, 4) int32 integral images of B uint8 RGB (H, W, 3) images, written into
    `out` when given. Window sums are exact: past 2**31 the integral wraps around, but the
    four-corner difference of any window the detector uses (under 2**31) comes out right in
    int32's modular arithmetic, whatever the image size.

    A fourth (unused) channel pads each pixel's sums to 16 bytes, so one gather of a
    16-byte element fetches all three channels (see _pixels)."""
    import cv2  # heavy: imported on the first detection, not with the pipeline

    if out is None:
        h, w = images[0].shape[:2]
        out = np.empty((len(images), h + 1, w + 1, 4), np.int32)
    for k, image in enumerate(images):
        written = cv2.integral(cv2.cvtColor(image, cv2.COLOR_RGB2RGBA), out[k], sdepth=cv2.CV_32S)
        if not np.shares_memory(written, out):
            out[k] = written
    return out


def _pixels(integral: np.ndarray) -> np.ndarray:
    """View (..., 4) sums as (...) opaque elements, one per pixel, for cheap gathers."""
    return integral.view(np.dtype((np.void, 4 * integral.itemsize)))[..., 0]


def _sums(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Back from _pixels: (...) opaque elements to (..., 4) sums."""
    return pixels.view(dtype).reshape(*pixels.shape, 4)


def _bins(start: np.ndarray | int, size: np.ndarray | int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive pooling windows [lo, hi) of `out` bins over `size` pixels from `start`
    (ATen's start_index/end_index: floor(i * size / out), ceil((i + 1) * size / out))."""
    i = np.arange(out)
    size = np.asarray(size)[..., None]
    lo = (i * size) // out
    hi = ((i + 1) * size + out - 1) // out
    start = np.asarray(start)[..., None]
    return start + lo, start + hi


def _normalise(sums: np.ndarray, kh: np.ndarray, kw: np.ndarray) -> np.ndarray:
    """(n, h, w, 4) window sums -> (n, 3, h, w) float32 network input, bit-identical to torch:
    each sum divided by the window height, then by its width (float32), then (x - 127.5) / 128.
    Folding the exact power-of-two scale into the second division keeps every rounding the same."""
    n, h, w, _ = sums.shape
    x = np.empty((n, 3, h, w), np.float32)
    x[...] = np.moveaxis(sums[..., :3], -1, 1)  # convert and go channels-first in one pass
    np.divide(x, kh.astype(np.float32), out=x)
    np.divide(x, kw.astype(np.float32) * np.float32(128), out=x)
    x -= np.float32(127.5 / 128)
    return x


def _window_means(integral: np.ndarray, image_index: np.ndarray, hs: np.ndarray, he: np.ndarray,
                  ws: np.ndarray, we: np.ndarray) -> np.ndarray:
    """Network input (n, 3, h, w) averaging windows rows [hs, he) x columns [ws, we) ((n, h)
    and (n, w) arrays) of the images `image_index`, from their integral images."""
    _, h1, w1, _ = integral.shape
    # Flat pixel offsets: one take per window corner instead of 4-D fancy indexing.
    base = image_index[:, None].astype(np.int64) * h1
    r0, r1 = ((base + hs) * w1)[:, :, None], ((base + he) * w1)[:, :, None]
    c0, c1 = ws[:, None, :], we[:, None, :]
    flat = _pixels(integral).reshape(-1)

    def corner(index: np.ndarray) -> np.ndarray:
        return _sums(np.take(flat, index), integral.dtype)

    sums = corner(r1 + c1) - corner(r0 + c1) - corner(r1 + c0) + corner(r0 + c0)
    return _normalise(sums, (he - hs)[:, None, :, None], (we - ws)[:, None, None, :])


def resample_batch(integral: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-resize a batch of equal-sized images (as integral images) to (B, 3, height, width)
    float32 for the networks: torch's interpolate(mode='area'), then (x - 127.5) / 128."""
    hs, he = _bins(0, integral.shape[1] - 1, height)
    ws, we = _bins(0, integral.shape[2] - 1, width)
    # Whole rows first (contiguous copies), then one gather per column bound.
    rows = _pixels(np.take(integral, he, axis=1) - np.take(integral, hs, axis=1))
    sums = _sums(np.take(rows, we, axis=2), integral.dtype) - _sums(np.take(rows, ws, axis=2), integral.dtype)
    return _normalise(sums, (he - hs)[None, None, :, None], (we - ws)[None, None, None, :])


def resample_patches(integral: np.ndarray, image_index: np.ndarray, y: np.ndarray, ey: np.ndarray,
                     x: np.ndarray, ex: np.ndarray, size: int) -> np.ndarray:
    """Patches [y-1:ey, x-1:ex] (detect_face's 1-based boxes) of the images `image_index`
    area-resized to (n, 3, size, size) float32 for the networks."""
    hs, he = _bins(y - 1, ey - y + 1, size)
    ws, we = _bins(x - 1, ex - x + 1, size)
    return _window_means(integral, image_index, hs, he, ws, we)


__all__ = ["integral_images", "pyramid_scales", "resample_batch", "resample_patches"]
