"""Passive liveness (presentation-attack detection) of detected faces with two MiniFASNets.

Weights: MiniFASNetV2 and MiniFASNetV1SE of minivision-ai/Silent-Face-Anti-Spoofing,
commit b6d5f04, Apache License 2.0 (LICENSE and SOURCE.txt are installed beside them);
the networks here are our own implementation, matching those state_dicts key for key.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from recognition.pipeline.detection import Box, Detection
from recognition.pipeline.embedding import ONNX_OPSET, export_onnx_bytes
from recognition.pipeline.weights import (
    WeightsUnavailable,
    atomic_write_bytes,
    default_models_dir,
    ensure_cached_export,
    models_dir_lock,
    sha256_file,
)

if TYPE_CHECKING:
    import onnxruntime
    import torch

MODEL_VERSION = "minifasnet-v2+v1se-b6d5f04"
# Measured with MTCNN boxes (bench/liveness_bench.py): bona fide LFW photos are accepted 96.1% at
# 0.2 (90.3% at the reference's 0.5; 99% only at 0.005), and both shipped attack samples stay
# refused (0.171 and 0.004). Grey photos score ~0 whatever the threshold (ORL: 0%): the networks
# learnt colour cues of prints and screens.
DEFAULT_THRESHOLD = 0.2
INPUT_SIZE = 80
REAL_CLASS = 1
WEIGHTS_SUBDIR = "antispoof"
PROVENANCE_FILES = ("LICENSE", "SOURCE.txt")

Backend = Literal["onnx", "torch"]


@dataclass(frozen=True)
class MiniFASNetSpec:
    """One shipped network: its file, digest, crop scale and the pruned widths of its blocks."""

    name: str
    filename: str
    sha256: str
    scale: float  # crop = box scaled about its centre by this factor
    # Expansion widths of the depthwise blocks, stage by stage (the reference's pruned "keep" list).
    conv_23: int
    conv_3: tuple[int, ...]
    conv_34: int
    conv_4: tuple[int, ...]
    conv_45: int
    conv_5: tuple[int, ...]
    se: bool  # squeeze-and-excitation on the last block of each residual stage

    @property
    def onnx_filename(self) -> str:
        return f"minifasnet-{self.name}.onnx"


MINIFASNET_V2 = MiniFASNetSpec(
    name="v2",
    filename="2.7_80x80_MiniFASNetV2.pth",
    sha256="a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
    scale=2.7,
    conv_23=103, conv_3=(13, 13, 13, 13),
    conv_34=231, conv_4=(231, 52, 26, 77, 26, 26),
    conv_45=308, conv_5=(26, 26),
    se=False,
)
MINIFASNET_V1SE = MiniFASNetSpec(
    name="v1se",
    filename="4_0_0_80x80_MiniFASNetV1SE.pth",
    sha256="84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
    scale=4.0,
    conv_23=103, conv_3=(13, 26, 13, 52),
    conv_34=231, conv_4=(154, 52, 26, 52, 26, 26),
    conv_45=308, conv_5=(26, 26),
    se=True,
)
SPECS = (MINIFASNET_V2, MINIFASNET_V1SE)


class LivenessWeightsUnavailable(WeightsUnavailable):
    """The anti-spoofing weights are missing, or their SHA-256 is not the one we ship."""


class LivenessSourceMissing(LivenessWeightsUnavailable):
    """A file to install is absent from the source folder (nothing to verify or copy)."""


@dataclass(frozen=True)
class LivenessResult:
    """Liveness of one face: mean real-class probability of the two networks, and the verdict."""

    score: float
    is_live: bool
    model_version: str


# ------------------------------------------------------------------------ networks


@functools.cache
def _minifasnet_class() -> type:
    """The MiniFASNet module class, defined on first use so importing this module imports no torch."""
    from torch import nn

    class ConvBlock(nn.Module):
        """Conv (no bias), batch norm and, unless it is a linear block, a per-channel PReLU."""

        def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, padding: int = 0,
                     groups: int = 1, prelu: bool = True) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
            self.bn = nn.BatchNorm2d(c_out)
            self.prelu = nn.PReLU(c_out) if prelu else None

        def forward(self, x):
            x = self.bn(self.conv(x))
            return self.prelu(x) if self.prelu is not None else x

    class SqueezeExcitation(nn.Module):
        def __init__(self, channels: int, reduction: int = 4) -> None:
            super().__init__()
            self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels // reduction)
            self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            w = x.mean(dim=(2, 3), keepdim=True)
            w = self.bn2(self.fc2(self.bn1(self.fc1(w)).relu()))
            return x * w.sigmoid()

    class DepthWise(nn.Module):
        """Inverted bottleneck: 1x1 expand, 3x3 depthwise, 1x1 linear projection."""

        def __init__(self, c_in: int, width: int, c_out: int, stride: int, residual: bool,
                     se: bool = False) -> None:
            super().__init__()
            self.conv = ConvBlock(c_in, width)
            self.conv_dw = ConvBlock(width, width, kernel=3, stride=stride, padding=1, groups=width)
            self.project = ConvBlock(width, c_out, prelu=False)
            self.se_module = SqueezeExcitation(c_out) if se else None
            self.residual = residual

        def forward(self, x):
            y = self.project(self.conv_dw(self.conv(x)))
            if self.se_module is not None:
                y = self.se_module(y)
            return x + y if self.residual else y

    class Residual(nn.Module):
        def __init__(self, channels: int, widths: Sequence[int], se: bool) -> None:
            super().__init__()
            last = len(widths) - 1
            self.model = nn.Sequential(*(
                DepthWise(channels, w, channels, stride=1, residual=True, se=se and i == last)
                for i, w in enumerate(widths)
            ))

        def forward(self, x):
            return self.model(x)

    class MiniFASNet(nn.Module):
        """MobileFaceNet-style classifier of 80x80 BGR crops (0-255) into 3 logits."""

        def __init__(self, spec: MiniFASNetSpec) -> None:
            super().__init__()
            self.conv1 = ConvBlock(3, 32, kernel=3, stride=2, padding=1)
            self.conv2_dw = ConvBlock(32, 32, kernel=3, padding=1, groups=32)
            self.conv_23 = DepthWise(32, spec.conv_23, 64, stride=2, residual=False)
            self.conv_3 = Residual(64, spec.conv_3, spec.se)
            self.conv_34 = DepthWise(64, spec.conv_34, 128, stride=2, residual=False)
            self.conv_4 = Residual(128, spec.conv_4, spec.se)
            self.conv_45 = DepthWise(128, spec.conv_45, 128, stride=2, residual=False)
            self.conv_5 = Residual(128, spec.conv_5, spec.se)
            self.conv_6_sep = ConvBlock(128, 512)
            # 80 px input is 5x5 after four stride-2 steps: a global depthwise 5x5 conv.
            self.conv_6_dw = ConvBlock(512, 512, kernel=5, groups=512, prelu=False)
            self.linear = nn.Linear(512, 128, bias=False)
            self.bn = nn.BatchNorm1d(128)
            self.prob = nn.Linear(128, 3, bias=False)

        def forward(self, x):
            for stage in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34,
                          self.conv_4, self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):
                x = stage(x)
            x = x.flatten(1)
            return self.prob(self.bn(self.linear(x)))

    return MiniFASNet


def build_minifasnet(spec: MiniFASNetSpec) -> torch.nn.Module:
    """An untrained MiniFASNet shaped like ``spec`` (V2, or V1SE with its SE blocks)."""
    return _minifasnet_class()(spec)


def load_state_dict_strict(model: torch.nn.Module, path: Path) -> None:
    """Load a reference .pth (saved from DataParallel: keys start with 'module.') with strict=True."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


# ----------------------------------------------------------------------- weights


def default_source_dir() -> Path:
    """The shipped weights: ``../shared/models/antispoof`` beside the repository."""
    return Path(__file__).resolve().parents[3] / "shared" / "models" / WEIGHTS_SUBDIR


def weights_dir(models_dir: Path | str | None = None) -> Path:
    return (Path(models_dir) if models_dir is not None else default_models_dir()) / WEIGHTS_SUBDIR


@dataclass(frozen=True)
class LivenessOnnx:
    """A cached ONNX export of one network and the weights digest it came from."""

    path: Path
    sha256: str
    weights_sha256: str


def _verified_weights(directory: Path, spec: MiniFASNetSpec) -> Path:
    path = directory / spec.filename
    if not path.is_file():
        raise LivenessWeightsUnavailable(
            f"liveness weights {path} are missing; run `make weights` to install them"
        )
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise LivenessWeightsUnavailable(
            f"liveness weights {path} have sha256 {digest}, expected {spec.sha256}; "
            "run `make weights` to reinstall them"
        )
    return path


def _copy_verified(source: Path, dest: Path, expected_sha256: str | None) -> None:
    """Copy ``source`` to ``dest`` unless ``dest`` already matches; check the bytes actually copied.

    Without ``expected_sha256`` (LICENSE, SOURCE.txt) an installed copy is kept when the source is gone.
    """
    if expected_sha256 is not None and dest.is_file() and sha256_file(dest) == expected_sha256:
        return
    if not source.is_file():
        if expected_sha256 is None and dest.is_file():
            return
        raise LivenessSourceMissing(f"{source} not found: cannot install the liveness weights")
    data = source.read_bytes()
    if expected_sha256 is None:
        if dest.is_file() and dest.read_bytes() == data:
            return
    else:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise LivenessWeightsUnavailable(
                f"refusing {source}: sha256 {digest} is not the expected {expected_sha256}"
            )
    atomic_write_bytes(dest, data)


def ensure_liveness_onnx(models_dir: Path | str | None = None) -> tuple[LivenessOnnx, ...]:
    """The ONNX exports of both networks (V2, V1SE), exported when missing or stale.

    Each ``<name>.onnx.json`` sidecar records the export's sha256 and that of the
    weights it came from. The weights must already be installed (``make weights``).
    """
    directory = weights_dir(models_dir)
    out = []
    for spec in SPECS:
        path = directory / spec.onnx_filename
        sha = ensure_cached_export(path, directory.parent, {"weights_sha256": spec.sha256},
                                   lambda path=path, spec=spec: _export_onnx(path, spec))
        out.append(LivenessOnnx(path=path, sha256=sha, weights_sha256=spec.sha256))
    return tuple(out)


def _export_onnx(path: Path, spec: MiniFASNetSpec) -> tuple[bytes, dict]:
    import torch

    model = load_minifasnet(spec, path.parent.parent)
    return export_onnx_bytes(model, input_size=INPUT_SIZE, output_name="logits"), {
        "weights": spec.filename,
        "model_version": MODEL_VERSION,
        "opset": ONNX_OPSET,
        "torch": torch.__version__,
        "input": f"input: float32 (batch, 3, {INPUT_SIZE}, {INPUT_SIZE}), BGR 0-255",
        "output": "logits: float32 (batch, 3), class 1 = real",
    }


def prepare_liveness_weights(
    models_dir: Path | str | None = None, source_dir: Path | str | None = None, *, export_onnx: bool = True
) -> Path:
    """Install both .pth files (SHA-256 checked), LICENSE and SOURCE.txt under ``models_dir/antispoof``.

    Files already there with the right content are left alone, so the source folder is only
    needed for what is missing. Raises LivenessWeightsUnavailable on a digest mismatch.
    Returns the installed directory.
    """
    source = Path(source_dir) if source_dir is not None else default_source_dir()
    directory = weights_dir(models_dir)
    with models_dir_lock(directory.parent):
        for spec in SPECS:
            _copy_verified(source / spec.filename, directory / spec.filename, spec.sha256)
        for name in PROVENANCE_FILES:
            _copy_verified(source / name, directory / name, None)
    if export_onnx:
        ensure_liveness_onnx(directory.parent)
    return directory


def load_minifasnet(spec: MiniFASNetSpec, models_dir: Path | str | None = None) -> torch.nn.Module:
    """One installed network in eval mode on CPU; never fetches anything."""
    path = _verified_weights(weights_dir(models_dir), spec)
    model = build_minifasnet(spec)
    load_state_dict_strict(model, path)
    return model.eval()


# ------------------------------------------------------------------ preprocessing


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
    import cv2

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


# ---------------------------------------------------------------------- checker


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
        self.models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
        self.backend = backend
        self.threshold = threshold
        self.device = device
        self.batch_size = batch_size
        self.model_version = MODEL_VERSION
        self._lock = threading.Lock()
        self._runners: list[Any] | None = None  # one per spec: an ORT session or a torch module

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

    def _load_onnx(self) -> list[onnxruntime.InferenceSession]:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        # Spinning workers waiting for these tiny ops measured 2-3x slower on a shared 2-core CPU.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Export on demand (no download): the .pth files must be installed, and are verified.
        for spec in SPECS:
            _verified_weights(weights_dir(self.models_dir), spec)
        return [
            ort.InferenceSession(str(f.path), options, providers=["CPUExecutionProvider"])
            for f in ensure_liveness_onnx(self.models_dir)
        ]

    def _logits(self, runner: Any, x: np.ndarray) -> np.ndarray:
        if self.backend == "onnx":
            return runner.run(["logits"], {"input": x})[0]
        import torch

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


__all__ = [
    "DEFAULT_THRESHOLD",
    "MINIFASNET_V1SE",
    "MINIFASNET_V2",
    "MODEL_VERSION",
    "LivenessChecker",
    "LivenessOnnx",
    "LivenessResult",
    "LivenessSourceMissing",
    "LivenessWeightsUnavailable",
    "MiniFASNetSpec",
    "build_minifasnet",
    "ensure_liveness_onnx",
    "liveness_crop",
    "load_minifasnet",
    "prepare_liveness_weights",
    "scaled_box",
]
