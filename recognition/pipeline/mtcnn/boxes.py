"""MTCNN's box arithmetic, as facenet-pytorch's detect_face does it in float32: P-Net cells to
boxes, NMS (torchvision's for P-Net and R-Net, facenet-pytorch's numpy 'Min' NMS after O-Net),
squaring, regression and padding."""

from __future__ import annotations

import numpy as np

PNET_STRIDE = 2
PNET_CELL = 12


def generate_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """P-Net cells with face probability >= threshold as (n, 9) float32 rows
    [x1, y1, x2, y2, score, reg x4] in image pixels, and their image indices."""
    face = prob[:, 1]
    b, yy, xx = np.nonzero(face >= threshold)  # (image, row, column) order, like torch
    score = face[b, yy, xx]
    offsets = reg[b, :, yy, xx]
    cells = np.stack([xx, yy], axis=1).astype(np.float32)
    s = np.float32(scale)
    q1 = np.floor((PNET_STRIDE * cells + 1) / s)
    q2 = np.floor((PNET_STRIDE * cells + PNET_CELL) / s)
    boxes = np.concatenate([q1, q2, score[:, None], offsets], axis=1).astype(np.float32, copy=False)
    return boxes, b


# Above this many boxes in one image, NMS loops over kept boxes instead of building the
# full pairwise IoU matrix (memory grows with its square).
_NMS_MATRIX_MAX = 2000
# torchvision's batched_nms shifts boxes apart per image up to this many boxes (4,000 numbers).
_TORCHVISION_OFFSET_MAX = 1000


def _iou_suppresses(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """(n, n) bool: IoU of boxes i and j > threshold, in torchvision's float32 arithmetic."""
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    w = np.maximum(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), np.float32(0))
    h = np.maximum(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), np.float32(0))
    inter = w * h
    iou = inter / (areas[:, None] + areas - inter)
    return iou.astype(np.float64) > threshold  # torchvision compares in double


def _nms_one(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision.ops.nms: indices kept, in decreasing (stably sorted) score order."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order]
    n = len(order)
    keep = []
    if n <= _NMS_MATRIX_MAX:
        suppresses = _iou_suppresses(boxes, threshold)
        removed = np.zeros(n, bool)
        for i in range(n):
            if not removed[i]:
                keep.append(i)
                removed |= suppresses[i]
    else:
        rest = np.arange(n)
        while rest.size:
            i, rest = rest[0], rest[1:]
            keep.append(i)
            rest = rest[~_iou_suppresses(np.concatenate([boxes[i:i + 1], boxes[rest]]), threshold)[0, 1:]]
    return order[np.asarray(keep, np.int64)]


def batched_nms(boxes: np.ndarray, scores: np.ndarray, owner: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision.ops.batched_nms: NMS within each owner (image). Returns the kept indices in
    decreasing score order, ties in index order (torchvision's stable sort; past 1,000 boxes
    its order of tied scores is torch's unstable sort, which this does not reproduce)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if len(boxes) <= _TORCHVISION_OFFSET_MAX:
        # torchvision shifts each owner's boxes apart and computes IoUs on the shifted (float32)
        # coordinates; doing the same keeps every rounding identical.
        boxes = boxes + (owner.astype(np.float32) * (boxes.max() + np.float32(1)))[:, None]
    kept = []
    for o in np.unique(owner):
        mine = np.flatnonzero(owner == o)
        kept.append(mine[_nms_one(boxes[mine], scores[mine], threshold)])
    keep = np.sort(np.concatenate(kept))
    return keep[np.argsort(-scores[keep], kind="stable")]


def batched_nms_min(boxes: np.ndarray, scores: np.ndarray, owner: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's batched_nms_numpy(..., 'Min'): nms_min over all images at once, their
    boxes shifted apart. It sorts all scores of the batch together (np.argsort's default, not
    stable), so which of two boxes with equal scores survives depends on the batch, as there."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    shifted = boxes + (owner.astype(np.float32) * (boxes.max() + np.float32(1)))[:, None]
    return nms_min(shifted, scores, threshold)


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's nms_numpy with method 'Min' (one image): overlap is the
    intersection over the smaller box, in pixel-inclusive (+1) areas."""
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    pick = []
    while order.size:
        i, idx = order[-1], order[:-1]
        pick.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[idx]) - np.maximum(x1[i], x1[idx]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[idx]) - np.maximum(y1[i], y1[idx]) + 1)
        overlap = w * h / np.minimum(area[i], area[idx])
        order = order[np.where(overlap <= threshold)]
    return np.asarray(pick, np.int64)


def rerec(boxes: np.ndarray) -> np.ndarray:
    """Square the boxes around their centres (side = the longer side), in place."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * np.float32(0.5) - side * np.float32(0.5)
    boxes[:, 1] = boxes[:, 1] + h * np.float32(0.5) - side * np.float32(0.5)
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def bbreg(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply R-Net/O-Net box regression (offsets in units of the pixel-inclusive size), in place."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    b1 = boxes[:, 0] + reg[:, 0] * w
    b2 = boxes[:, 1] + reg[:, 1] * h
    b3 = boxes[:, 2] + reg[:, 2] * w
    b4 = boxes[:, 3] + reg[:, 3] * h
    boxes[:, :4] = np.stack([b1, b2, b3, b4], axis=1)
    return boxes


def pad(boxes: np.ndarray, width: np.ndarray, height: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """detect_face's `pad`: truncated 1-based (y, ey, x, ex), x and y at least 1, ex and ey
    at most the (per-box) image width and height."""
    b = np.trunc(boxes[:, :4]).astype(np.int64)
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], width), np.minimum(b[:, 3], height)
    return y, ey, x, ex


__all__ = ["batched_nms", "batched_nms_min", "bbreg", "generate_boxes", "nms_min", "pad", "rerec"]
