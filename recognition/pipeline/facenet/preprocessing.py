"""FaceNet's input and output scales: crops in, standardised batches; raw outputs, unit vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recognition.pipeline.facenet.constants import CROP_SIZE


def standardise(crops: np.ndarray) -> np.ndarray:
    """uint8 NHWC RGB -> float32 NCHW in FaceNet's fixed ``(x - 127.5) / 128`` scale."""
    x = crops.astype(np.float32)
    x -= 127.5
    x *= 1.0 / 128.0  # 1/128 is exact in binary, so this equals the division
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def as_crops(crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """One crop, a list or a batch of them as a (N, 160, 160, 3) uint8 array (ValueError otherwise)."""
    if isinstance(crops, np.ndarray):
        arr = crops
    else:
        items = list(crops)
        if not items:
            return np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
        arr = np.stack(items)
    if arr.ndim == 3:  # a single crop
        arr = arr[None]
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
        raise ValueError(
            f"expected uint8 RGB crops of shape (N, {CROP_SIZE}, {CROP_SIZE}, 3), got {arr.dtype} {arr.shape}"
        )
    return arr


__all__ = ["as_crops", "l2_normalise", "standardise"]
