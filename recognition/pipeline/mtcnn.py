"""MTCNN in numpy around ONNX Runtime: facenet-pytorch's detect_face, step for step.

The algorithm is facenet_pytorch.models.utils.detect_face (image pyramid, P-Net,
NMS per scale and per image, R-Net, O-Net, box regression, landmarks), with the
same float32 arithmetic so that only the networks' own rounding differs:

* resampling is torch's ``interpolate(mode='area')`` (adaptive average pooling),
  computed exactly from one integral image per image (bit-identical to torch),
  for the pyramid and for the R-Net/O-Net patches alike;
* NMS is torchvision's (IoU, scores sorted stably, suppression when IoU > t) for
  P-Net and R-Net, and facenet-pytorch's numpy 'Min' NMS after O-Net.

Unlike facenet-pytorch, images of any sizes go through one call: P-Net runs once
per scale for each group of equal-sized images, and R-Net and O-Net each run on
the patches of all images together. Results per image do not depend on the others,
except which of two overlapping boxes with exactly equal final probability survives
the last NMS: facenet-pytorch decides that batch-wide (an unstable sort), and so does this.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

PNET_STRIDE = 2
PNET_CELL = 12
# Largest R-Net/O-Net batch per run, bounding memory (facenet-pytorch uses 512).
STAGE_BATCH = 256

NetFn = Callable[[np.ndarray], tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class MtcnnNets:
    """The three networks as functions of a float32 NCHW batch, returning (reg, prob) for
    P-Net and R-Net and (reg, landmarks, prob) for O-Net, as facenet-pytorch's modules do."""

    pnet: NetFn
    rnet: NetFn
    onet: NetFn

    @classmethod
    def from_sessions(cls, sessions: dict) -> MtcnnNets:
        def runner(session) -> NetFn:
            return lambda x: tuple(session.run(None, {"input": x}))

        return cls(runner(sessions["pnet"]), runner(sessions["rnet"]), runner(sessions["onet"]))


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
    import cv2

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


class MtcnnDetector:
    """Detects faces with MTCNN given its three nets (ONNX sessions, or anything alike).

    `workers` > 1 runs independent pieces in a thread pool (numpy, OpenCV and ONNX Runtime
    release the GIL): integral images and P-Net per pyramid level and share of the images,
    R-Net and O-Net per share of the patches. With single-threaded sessions this keeps every
    core busy through the numpy steps too, which the networks' own threads cannot. Results
    do not depend on it.
    """

    def __init__(self, nets: MtcnnNets, *, min_face_size: float = 20,
                 thresholds: Sequence[float] = (0.6, 0.7, 0.7), factor: float = 0.709, workers: int = 1) -> None:
        self.nets = nets
        self.min_face_size = min_face_size
        self.thresholds = tuple(thresholds)
        self.factor = factor
        self.workers = max(1, workers)
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # (owning pid, pool)
        self._pool_lock = threading.Lock()

    def _map(self, fn: Callable, items: Sequence) -> list:
        if self.workers == 1 or len(items) < 2:
            return [fn(item) for item in items]
        pool = self._pool
        if pool is None or pool[0] != os.getpid():  # a forked child has no threads: make its own
            with self._pool_lock:
                pool = self._pool
                if pool is None or pool[0] != os.getpid():
                    pool = self._pool = (os.getpid(), ThreadPoolExecutor(self.workers, thread_name_prefix="mtcnn"))
        return list(pool[1].map(fn, items))

    def detect(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each (H, W, 3) uint8 RGB image, (boxes, points): float32 (n, 5) rows
        [x1, y1, x2, y2, probability] and (n, 5, 2) landmarks, in detect_face's order."""
        n_images = len(images)
        empty = (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
        if n_images == 0:
            return []
        # Group equal shapes: each group gets one integral-image stack and P-Net batches per level.
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(image.shape, []).append(i)
        members = [np.asarray(m) for m in groups.values()]
        stacks = [np.empty((len(m), images[m[0]].shape[0] + 1, images[m[0]].shape[1] + 1, 4), np.int32)
                  for m in members]
        shares = [(stack[s[0]:s[-1] + 1], m[s]) for m, stack in zip(members, stacks)
                  for s in np.array_split(np.arange(len(m)), min(self.workers, len(m)))]
        self._map(lambda share: integral_images([images[i] for i in share[1]], out=share[0]), shares)
        where = np.zeros((n_images, 2), np.int64)  # image -> (group, index in its stack)
        for g, m in enumerate(members):
            where[m, 0], where[m, 1] = g, np.arange(len(m))
        sizes = np.array([images[i].shape[:2] for i in range(n_images)], np.int64)  # (h, w)

        boxes, owner = self._stage_one(members, stacks)
        if len(boxes):
            boxes, owner = self._stage_two(boxes, owner, stacks, where, sizes)
        points = np.zeros((0, 5, 2), np.float32)
        if len(boxes):
            boxes, owner, points = self._stage_three(boxes, owner, stacks, where, sizes)

        results = [empty] * n_images
        for i in np.unique(owner):
            mine = owner == i
            results[i] = (boxes[mine], points[mine])
        return results

    def _stage_one(self, members: list[np.ndarray], stacks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """P-Net over each group's pyramid: candidates after NMS per level and per image."""
        tasks = []  # (level number, images' integrals, their indices in the call, scale)
        levels = 0
        for m, stack in zip(members, stacks):
            h, w = stack.shape[1] - 1, stack.shape[2] - 1
            shares = np.array_split(np.arange(len(m)), min(self.workers, len(m)))
            for scale in pyramid_scales(h, w, self.min_face_size, self.factor):
                tasks += [(levels, stack[s[0]:s[-1] + 1], m[s], scale) for s in shares]
                levels += 1

        def cells(task) -> tuple[np.ndarray, np.ndarray]:
            _, stack, owners, scale = task
            h, w = stack.shape[1] - 1, stack.shape[2] - 1
            reg, prob = self.nets.pnet(resample_batch(stack, int(h * scale + 1), int(w * scale + 1)))[:2]
            boxes, local = generate_boxes(reg, prob, scale, self.thresholds[0])
            return boxes, owners[local]

        # A level's shares hold consecutive images, so joining them gives detect_face's
        # (image, row, column) order; NMS then runs on the whole level as there (in this
        # thread: it is mostly Python, which threads would only serialise on the GIL).
        found = self._map(cells, tasks)
        by_level: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(levels)]
        for task, result in zip(tasks, found):
            by_level[task[0]].append(result)

        def level_nms(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
            boxes, owner = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            pick = batched_nms(boxes[:, :4], boxes[:, 4], owner, 0.5)
            return boxes[pick], owner[pick]

        kept = [level_nms(parts) for parts in by_level]
        if not kept:
            return np.zeros((0, 9), np.float32), np.zeros(0, np.int64)
        boxes, owner = np.concatenate([k[0] for k in kept]), np.concatenate([k[1] for k in kept])
        pick = batched_nms(boxes[:, :4], boxes[:, 4], owner, 0.7)
        boxes, owner = boxes[pick], owner[pick]
        regw = boxes[:, 2] - boxes[:, 0]
        regh = boxes[:, 3] - boxes[:, 1]
        out = np.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                        boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh,
                        boxes[:, 4]], axis=1)
        return rerec(out), owner

    def _run_on_patches(self, net: NetFn, size: int, boxes, owner, stacks, where, sizes):
        """`net` on the boxes' patches, in shares run in parallel; also which boxes had a
        non-empty patch (detect_face skips empty ones and then misaligns; we drop them)."""
        y, ey, x, ex = pad(boxes, sizes[owner, 1], sizes[owner, 0])
        valid = np.flatnonzero((ey > y - 1) & (ex > x - 1))
        shares = self.workers * -(-len(valid) // (self.workers * STAGE_BATCH))  # whole rounds for the pool
        parts = [p for p in np.array_split(valid, shares) if len(p)]

        def run(part: np.ndarray) -> tuple[np.ndarray, ...]:
            batch = np.empty((len(part), 3, size, size), np.float32)
            group = where[owner[part], 0]
            for g in np.unique(group):
                sel = group == g
                k = part[sel]
                batch[sel] = resample_patches(stacks[g], where[owner[k], 1], y[k], ey[k], x[k], ex[k], size)
            return net(batch)

        outputs = self._map(run, parts)
        return tuple(np.concatenate(o) for o in zip(*outputs)), valid

    def _stage_two(self, boxes, owner, stacks, where, sizes):
        """R-Net refines and filters the candidates of all images together."""
        out, valid = self._run_on_patches(self.nets.rnet, 24, boxes, owner, stacks, where, sizes)
        if not len(valid):
            return boxes[:0], owner[:0]
        boxes, owner = boxes[valid], owner[valid]
        reg, prob = out[:2]
        score = prob[:, 1]
        ok = score > self.thresholds[1]
        boxes = np.concatenate([boxes[ok, :4], score[ok, None]], axis=1)
        owner, reg = owner[ok], reg[ok]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], owner, 0.7)
        boxes, owner, reg = boxes[pick], owner[pick], reg[pick]
        return rerec(bbreg(boxes, reg)), owner

    def _stage_three(self, boxes, owner, stacks, where, sizes):
        """O-Net: final probability, box regression and the five landmarks."""
        out, valid = self._run_on_patches(self.nets.onet, 48, boxes, owner, stacks, where, sizes)
        if not len(valid):
            return boxes[:0], owner[:0], np.zeros((0, 5, 2), np.float32)
        boxes, owner = boxes[valid], owner[valid]
        reg, marks, prob = out[:3]
        score = prob[:, 1]
        ok = score > self.thresholds[2]
        boxes = np.concatenate([boxes[ok, :4], score[ok, None]], axis=1)
        owner, reg, marks = owner[ok], reg[ok], marks[ok]
        w = boxes[:, 2] - boxes[:, 0] + 1
        h = boxes[:, 3] - boxes[:, 1] + 1
        px = w[:, None] * marks[:, :5] + boxes[:, 0, None] - 1
        py = h[:, None] * marks[:, 5:] + boxes[:, 1, None] - 1
        points = np.stack([px, py], axis=2)
        boxes = bbreg(boxes, reg)
        pick = batched_nms_min(boxes[:, :4], boxes[:, 4], owner, 0.7)
        return boxes[pick], owner[pick], points[pick]


__all__ = ["MtcnnDetector", "MtcnnNets", "batched_nms", "batched_nms_min", "generate_boxes", "integral_images", "nms_min",
           "pyramid_scales", "resample_batch", "resample_patches"]
