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

from recognition.pipeline.mtcnn.boxes import batched_nms, batched_nms_min, bbreg, generate_boxes, pad, rerec
from recognition.pipeline.mtcnn.resample import integral_images, pyramid_scales, resample_batch, resample_patches

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
    def from_models(cls, models: dict) -> MtcnnNets:
        """From the three nets' OnnxModels (mtcnn.export.load_mtcnn_models)."""
        def runner(model) -> NetFn:
            return lambda x: tuple(model.run(x))

        return cls(runner(models["pnet"]), runner(models["rnet"]), runner(models["onet"]))


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


__all__ = ["STAGE_BATCH", "MtcnnDetector", "MtcnnNets"]
