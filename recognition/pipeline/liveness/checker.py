"""Liveness of detected faces: the reference's crops, both MiniFASNets, the mean real-class
probability against a threshold."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from recognition.pipeline.detection import Box, Detection
from recognition.pipeline.liveness.install import MiniFASNetOnnx, load_minifasnet, verified_weights, weights_dir
from recognition.pipeline.liveness.specs import DEFAULT_THRESHOLD, INPUT_SIZE, MODEL_VERSION, REAL_CLASS, SPECS

if TYPE_CHECKING:
    import torch

Backend = Literal["onnx", "torch"]


@dataclass(frozen=True)
class LivenessResult:
    """Liveness of one face: mean real-class probability of the two networks, and the verdict."""

    score: float
    is_live: bool
    model_version: str


def scaled_box(box: Box, image_shape: Sequence[int], scale: float) -> tuple[int, int, int, int]:
    """The reference's crop box (inclusive x1, y1, x2, y2) for an MTCNN box (x1, y1, x2, y2).

    The box is scaled about its centre (less when the frame is too small for the full
    scale) and shifted back inside the frame rather than cut, so the face keeps its context.
    Width is x2 - x1 of the float box; the reference's integer RetinaFace box had w + 1.
    """
    src_h, src_w = int(image_shape[0]), int(image_shape[1])
    x, y = box[0], box[1]
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    if box_w <= 0 or box_h <= 0:
        raise ValueError(f"empty face box {tuple(box)}")
    scale = min((src_h - 1) / box_h, (src_w - 1) / box_w, scale)
    new_w, new_h = box_w * scale, box_h * scale
    cx, cy = x + box_w / 2, y + box_h / 2
    left, top = cx - new_w / 2, cy - new_h / 2
    right, bottom = cx + new_w / 2, cy + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > src_w - 1:
        left -= right - src_w + 1
        right = src_w - 1
    if bottom > src_h - 1:
        top -= bottom - src_h + 1
        bottom = src_h - 1
    return int(left), int(top), int(right), int(bottom)


def liveness_crop(image: np.ndarray, box: Box, scale: float) -> np.ndarray:
    """(80, 80, 3) uint8 BGR crop of an RGB image, as the reference feeds its networks."""
    import cv2  # heavy: only when scoring

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    x1, y1, x2, y2 = scaled_box(box, image.shape, scale)
    face = image[max(y1, 0) : y2 + 1, max(x1, 0) : x2 + 1]
    # Bilinear resize of uint8 pixels, as the reference does (cv2.resize's default).
    out = cv2.resize(face, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out[:, :, ::-1])


def _as_box(face: Box | Detection) -> Box:
    if isinstance(face, Detection):
        return face.box
    x1, y1, x2, y2 = (float(v) for v in face)
    return (x1, y1, x2, y2)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class LivenessChecker:
    """Scores faces (MTCNN boxes on RGB uint8 images) for liveness; ``is_live = score >= threshold``.

    Both networks load on first use, once; calls are safe from several threads. ``backend``:
    ONNX Runtime on CPU (default, as the embedder) or torch (``device`` applies to torch only).
    """

    def __init__(
        self,
        models_dir: Path | str | None = None,
        backend: Backend = "onnx",
        threshold: float = DEFAULT_THRESHOLD,
        *,
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        if backend not in ("onnx", "torch"):
            raise ValueError(f"backend must be 'onnx' or 'torch', got {backend!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.backend = backend
        self.threshold = threshold
        self.device = device
        self.batch_size = batch_size
        self.model_version = MODEL_VERSION
        self._lock = threading.Lock()
        self._runners: list[Any] | None = None  # one per spec: a MiniFASNetOnnx or a torch module

    def load(self) -> LivenessChecker:
        """Load both networks now (raises LivenessWeightsUnavailable when they are not installed)."""
        self._ensure_loaded()
        return self

    def _ensure_loaded(self) -> list[Any]:
        if self._runners is None:
            with self._lock:
                if self._runners is None:
                    self._runners = self._load_onnx() if self.backend == "onnx" else self._load_torch()
        return self._runners

    def _load_torch(self) -> list[torch.nn.Module]:
        return [load_minifasnet(spec, self.models_dir).to(self.device) for spec in SPECS]

    def _load_onnx(self) -> list[MiniFASNetOnnx]:
        # Export on demand (no download): the .pth files must be installed, and are verified.
        for spec in SPECS:
            verified_weights(weights_dir(self.models_dir), spec)
        return [MiniFASNetOnnx(self.models_dir, spec).load() for spec in SPECS]

    def _logits(self, runner: Any, x: np.ndarray) -> np.ndarray:
        if self.backend == "onnx":
            return runner.run(x, ["logits"])[0]
        import torch  # heavy: the torch backend only

        with torch.inference_mode():
            return runner(torch.from_numpy(x).to(self.device)).float().cpu().numpy()

    def probabilities(
        self, images: Sequence[np.ndarray], faces: Sequence[Sequence[Box | Detection]]
    ) -> np.ndarray:
        """Softmax of each network for every face, in order: float64 (n_faces, 2, 3), V2 then V1SE."""
        if len(images) != len(faces):
            raise ValueError(f"{len(images)} images but {len(faces)} lists of faces")
        pairs = [(image, _as_box(face)) for image, image_faces in zip(images, faces) for face in image_faces]
        out = np.zeros((len(pairs), len(SPECS), 3))
        if not pairs:
            return out
        runners = self._ensure_loaded()
        for k, (spec, runner) in enumerate(zip(SPECS, runners)):
            crops = np.stack([liveness_crop(image, box, spec.scale) for image, box in pairs])
            x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)  # 0-255, not normalised
            for start in range(0, len(x), self.batch_size):
                stop = start + self.batch_size
                out[start:stop, k] = _softmax(self._logits(runner, x[start:stop]))
        return out

    def check_many(
        self, images: Sequence[np.ndarray], faces: Sequence[Sequence[Box | Detection]]
    ) -> list[list[LivenessResult]]:
        """Liveness of every face of every image (``faces[i]`` are image i's boxes), all in one batch."""
        probs = self.probabilities(images, faces)
        scores = probs[:, :, REAL_CLASS].mean(axis=1)  # the reference's sum / 2
        results: list[list[LivenessResult]] = []
        k = 0
        for image_faces in faces:
            n = len(image_faces)
            results.append([
                LivenessResult(float(s), is_live=bool(s >= self.threshold), model_version=self.model_version)
                for s in scores[k : k + n]
            ])
            k += n
        return results

    def check(self, image: np.ndarray, faces: Sequence[Box | Detection]) -> list[LivenessResult]:
        """Liveness of each face (an (x1, y1, x2, y2) box or a Detection) of one RGB uint8 image."""
        return self.check_many([image], [faces])[0]

    def __repr__(self) -> str:
        return f"LivenessChecker({self.model_version}, backend={self.backend!r}, threshold={self.threshold})"


__all__ = ["LivenessChecker", "LivenessResult", "liveness_crop", "scaled_box"]
