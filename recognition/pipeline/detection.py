"""Face detection (MTCNN) and face cropping on RGB uint8 arrays.

MTCNN runs either as facenet-pytorch's torch module or, the default on CPU, as the
same three networks exported to ONNX inside a numpy port of its algorithm
(recognition.pipeline.mtcnn), which finds the same faces several times faster.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from recognition.pipeline.mtcnn import MtcnnDetector, MtcnnNets, load_mtcnn_models

Point = tuple[float, float]
Box = tuple[float, float, float, float]
Backend = Literal["auto", "torch", "onnx"]

# Default margin and size match facenet-pytorch's MTCNN(image_size=160, margin=32) setup
# used with its InceptionResnetV1 models.
DEFAULT_CROP_SIZE = 160
DEFAULT_CROP_MARGIN = 32


@dataclass(frozen=True)
class Detection:
    """One face: box (x1, y1, x2, y2) in pixels, probability, and 5 landmarks
    (left eye, right eye, nose, mouth left, mouth right) as (x, y); "left" as MTCNN
    reports it, i.e. the eye on the image's left side. MTCNN does not clip boxes: a face
    cut by the image edge may have coordinates outside it (crop_face clips)."""

    box: Box
    probability: float
    landmarks: tuple[Point, Point, Point, Point, Point]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> Point:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)

    def shifted(self, dx: float, dy: float) -> Detection:
        """The same detection with all coordinates moved by (dx, dy)."""
        x1, y1, x2, y2 = self.box
        marks = tuple((x + dx, y + dy) for x, y in self.landmarks)
        return Detection((x1 + dx, y1 + dy, x2 + dx, y2 + dy), self.probability, marks)  # type: ignore[arg-type]


DEFAULT_MIN_FACE_SIZE = 20.0  # facenet-pytorch's default pyramid start, px
DEFAULT_FACTOR = 0.709  # its pyramid step


def min_face_size_for(quality_min_face_px: float, *, factor: float = DEFAULT_FACTOR) -> float:
    """The MTCNN pyramid's smallest face (px) when faces under `quality_min_face_px` are
    rejected anyway: the largest level of the default 20 px pyramid (20 / factor**k) that is
    still one pyramid step under the quality minimum, never below 20.

    One step under, because a face's final box can come out up to a step larger than the
    P-Net window that found it; on the default pyramid's levels, because the levels kept
    are then exactly the default's and give the same faces. Each step skipped halves P-Net's
    work. For the default 40 px minimum this is 28.2 px: on LFW photos shrunk so that their
    faces straddle 40 px it finds every face the 20 px pyramid finds that passes 40 px
    (1,126 of 1,126; starting at 39.8 px misses 8), and on the 7,701 LFW View 2 images the
    face nearest the centre is exactly the 20 px pyramid's in every one.
    """
    size = DEFAULT_MIN_FACE_SIZE
    while size / factor <= quality_min_face_px * factor:
        size /= factor
    return size


class FaceDetector:
    """MTCNN face detector; the networks load lazily on first use, once (thread-safe).

    `backend`: 'onnx' runs the networks with ONNX Runtime (CPU only; exported from
    facenet-pytorch's weights into `models_dir` on first use when missing), 'torch'
    runs facenet-pytorch's MTCNN on `device`; 'auto' is onnx on CPU, torch elsewhere.
    Both find the same faces, boxes and landmarks within a pixel (see
    bench/mtcnn_lfw_check.py for the figures on LFW and ORL).

    `pad_ratio` (per call) pads the image border by that fraction of its size before
    detecting, for tightly cropped faces (e.g. ORL) whose face fills the frame and so
    lacks the context MTCNN expects; coordinates are mapped back to the original image.
    """

    def __init__(
        self,
        device: str = "cpu",
        min_face_size: float = DEFAULT_MIN_FACE_SIZE,
        *,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = DEFAULT_FACTOR,
        batch_size: int = 16,
        backend: Backend = "auto",
        models_dir: Path | str | None = None,
    ) -> None:
        if backend not in get_args(Backend):
            raise ValueError(f"backend must be 'auto', 'torch' or 'onnx', got {backend!r}")
        on_cpu = str(device) == "cpu"
        if backend == "onnx" and not on_cpu:
            raise ValueError("the onnx MTCNN runs on CPU only; use backend='torch' for CUDA")
        self.device = device
        self.min_face_size = min_face_size
        self.thresholds = thresholds
        self.factor = factor
        self.batch_size = batch_size
        self.backend = ("onnx" if on_cpu else "torch") if backend == "auto" else backend
        self.models_dir = models_dir
        self._mtcnn: Any = None
        self._lock = threading.Lock()

    @property
    def mtcnn(self) -> Any:
        """The loaded detector: facenet-pytorch's MTCNN (torch) or an MtcnnDetector (onnx)."""
        if self._mtcnn is None:
            with self._lock:
                if self._mtcnn is None:
                    self._mtcnn = self._load_onnx() if self.backend == "onnx" else self._load_torch()
        return self._mtcnn

    def _load_torch(self) -> Any:
        from facenet_pytorch import MTCNN  # deferred: importing torch is slow

        return MTCNN(
            keep_all=True,
            post_process=False,
            min_face_size=self.min_face_size,
            thresholds=list(self.thresholds),
            factor=self.factor,
            device=self.device,
        )

    def _load_onnx(self) -> Any:
        # Single-threaded sessions driven by one worker thread per core: the numpy steps run
        # in parallel too, and a busy machine does not stall the networks' thread pools.
        nets = MtcnnNets.from_models(load_mtcnn_models(self.models_dir, threads=1))
        return MtcnnDetector(nets, min_face_size=self.min_face_size, thresholds=self.thresholds,
                             factor=self.factor, workers=os.cpu_count() or 1)

    def detect(self, image: np.ndarray, *, pad_ratio: float = 0.0) -> list[Detection]:
        """Faces in one (H, W, 3) uint8 RGB image, most probable first; [] if none."""
        return self.detect_many([image], pad_ratio=pad_ratio)[0]

    def detect_many(
        self, images: Sequence[np.ndarray], *, pad_ratio: float = 0.0
    ) -> list[list[Detection]]:
        """Detect in several images, batch_size at a time. torch: images of equal shape go
        through MTCNN as one batch; onnx: any shapes, P-Net batched per shape and scale,
        R-Net and O-Net over all images of the batch at once."""
        prepared: list[tuple[np.ndarray, int, int]] = []
        for image in images:
            rgb = _as_rgb_uint8(image)
            padded, px, py = pad_image(rgb, pad_ratio) if pad_ratio > 0 else (rgb, 0, 0)
            prepared.append((padded, px, py))

        results: list[list[Detection]] = [[] for _ in prepared]
        # MTCNN's pyramid is empty (and facenet-pytorch crashes) when the image is under min_face_size.
        eligible = [i for i, (img, _, _) in enumerate(prepared)
                    if min(img.shape[:2]) >= max(self.min_face_size, 12)]

        def finish(i: int, dets: list[Detection]) -> None:
            _, px, py = prepared[i]
            results[i] = [d.shifted(-px, -py) for d in dets] if px or py else dets

        if self.backend == "onnx":
            for chunk in _chunks(eligible, [prepared[i][0].shape for i in eligible], self.batch_size):
                found = self.mtcnn.detect([prepared[i][0] for i in chunk])
                for i, (boxes, points) in zip(chunk, found):
                    # facenet-pytorch's MTCNN.detect lists the largest box first; keep its tie order.
                    order = np.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[::-1]
                    finish(i, _to_detections(boxes[order, :4], boxes[order, 4], points[order]))
            return results

        groups: dict[tuple[int, ...], list[int]] = {}
        for i in eligible:
            groups.setdefault(prepared[i][0].shape, []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack([prepared[i][0] for i in chunk])  # 4-D: MTCNN returns per image
                boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
                for k, i in enumerate(chunk):
                    finish(i, _to_detections(boxes[k], probs[k], points[k]))
        return results


# Pixels per ONNX MTCNN call: its integral images take 16 bytes a pixel, and larger
# batches gain nothing (measured on 250x250 photos and 640x480 frames).
ONNX_BATCH_PIXELS = 2_000_000


def _chunks(indices: list[int], shapes: list[tuple[int, ...]], batch_size: int) -> list[list[int]]:
    """Consecutive runs of at most batch_size images and ONNX_BATCH_PIXELS pixels (at least one image)."""
    chunks: list[list[int]] = []
    pixels = 0
    for i, shape in zip(indices, shapes):
        n = shape[0] * shape[1]
        if not chunks or len(chunks[-1]) == batch_size or pixels + n > ONNX_BATCH_PIXELS:
            chunks.append([])
            pixels = 0
        chunks[-1].append(i)
        pixels += n
    return chunks


def pad_image(image: np.ndarray, pad_ratio: float) -> tuple[np.ndarray, int, int]:
    """Pad by pad_ratio of width/height on each side, replicating the edge pixels.

    Returns the padded image and the (x, y) offsets of the original inside it.
    """
    h, w = image.shape[:2]
    px, py = int(round(w * pad_ratio)), int(round(h * pad_ratio))
    padded = np.pad(image, ((py, py), (px, px), (0, 0)), mode="edge")
    return padded, px, py


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def _to_detections(boxes: Any, probs: Any, points: Any) -> list[Detection]:
    """Convert MTCNN's per-image output (object arrays, or None when no face) to Detections."""
    if boxes is None or points is None:
        return []
    # MTCNN hands back dtype=object arrays; cast before any arithmetic.
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
    dets = [
        Detection(
            box=(float(x1), float(y1), float(x2), float(y2)),
            probability=float(prob),
            landmarks=tuple((float(x), float(y)) for x, y in marks),  # type: ignore[arg-type]
        )
        for (x1, y1, x2, y2), prob, marks in zip(b, p, pts)
    ]
    dets.sort(key=lambda d: d.probability, reverse=True)
    return dets


def crop_box(
    detection: Detection, image_shape: Sequence[int], *, size: int = DEFAULT_CROP_SIZE,
    margin: int = DEFAULT_CROP_MARGIN,
) -> tuple[int, int, int, int]:
    """The integer pixel box crop_face cuts, exactly as facenet-pytorch's extract_face:
    `margin` is in pixels of the output image, added half on each side, clipped."""
    x1, y1, x2, y2 = detection.box
    mx = margin * (x2 - x1) / (size - margin)
    my = margin * (y2 - y1) / (size - margin)
    h, w = int(image_shape[0]), int(image_shape[1])
    return (
        int(max(x1 - mx / 2, 0)),
        int(max(y1 - my / 2, 0)),
        int(min(x2 + mx / 2, w)),
        int(min(y2 + my / 2, h)),
    )


def crop_face(
    image: np.ndarray, detection: Detection, *, size: int = DEFAULT_CROP_SIZE,
    margin: int = DEFAULT_CROP_MARGIN,
) -> np.ndarray:
    """A (size, size, 3) uint8 face crop, identical to facenet-pytorch's extract_face on
    a numpy image (same box arithmetic, cv2 INTER_AREA resize), without float conversion."""
    import cv2  # heavy: imported on the first crop, not with the pipeline

    rgb = _as_rgb_uint8(image)
    x1, y1, x2, y2 = crop_box(detection, rgb.shape, size=size, margin=margin)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"face box {detection.box} lies outside the {rgb.shape[1]}x{rgb.shape[0]} image")
    face = rgb[y1:y2, x1:x2]
    out = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


def nearest_to_center(
    detections: Sequence[Detection], image_shape: Sequence[int]
) -> Detection | None:
    """The face whose box centre is nearest the image centre (LFW labels the centred face)."""
    if not detections:
        return None
    cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
    return min(detections, key=lambda d: math.hypot(d.center[0] - cx, d.center[1] - cy))


def central_detection(shape: Sequence[int], fraction: float = 0.45) -> Detection:
    """Stand-in box when MTCNN finds no face in a benchmark photo centred on the labelled face (LFW)."""
    h, w = shape[:2]
    side = fraction * min(h, w)
    cx, cy = w / 2, h / 2
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    return Detection(box=box, probability=0.0, landmarks=tuple((cx, cy) for _ in range(5)))  # type: ignore[arg-type]


def largest(detections: Sequence[Detection]) -> Detection | None:
    """The face with the largest box area, or None."""
    if not detections:
        return None
    return max(detections, key=lambda d: d.area)
