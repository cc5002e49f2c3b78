"""Batched FaceNet embeddings from aligned 160x160 RGB face crops.

Crops are standardised with the fixed ``(x - 127.5) / 128`` (what the FaceNet
weights were trained with; not per-image prewhitening) and mapped to L2-normalised
float32 512-d vectors. Interchangeable backends: torch (eager, CUDA in half
precision), ONNX Runtime on CPU using an ONNX export of the same network cached
beside the converted weights, and ONNX Runtime on an int8 quantisation of that
export (recognition.pipeline.quantization). Models load lazily on first use.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from recognition.pipeline.devices import cuda_available
from recognition.pipeline.weights import (
    DEFAULT_SPEC,
    MODEL_NAME,
    ModelInfo,
    default_models_dir,
    describe_weights,
    ensure_cached_export,
    load_facenet,
)

if TYPE_CHECKING:
    import onnxruntime
    import torch

    from recognition.pipeline.quantization import Int8OnnxFile

logger = logging.getLogger(__name__)

CROP_SIZE = 160
EMBEDDING_DIM = 512
ONNX_OPSET = 17

Device = Literal["auto", "cpu", "cuda"]
Backend = Literal["auto", "torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)
ONNX_BACKENDS = ("onnx", "onnx-int8")
# What backend='auto' runs on CPU. The int8 model would be the default at >= 1.5x the speed
# with <= 0.1 pt LFW View 2 loss (issue 18); measured (bench/int8_bench.py --lfw) 2.8x, but
# 98.62% vs 98.77% with the plain protocol (98.95% either way with tta + subtract-mean), so
# it stays an option. Setting this to "onnx-int8" makes it the default, falling back to
# "onnx" where it can be neither loaded nor calibrated.
CPU_AUTO_BACKEND = "onnx"


@dataclass(frozen=True)
class OnnxFile:
    """A cached ONNX export and the weights it was exported from."""

    path: Path
    sha256: str
    weights: ModelInfo

    @property
    def weights_sha256(self) -> str:
        return self.weights.sha256


def standardise(crops: np.ndarray) -> np.ndarray:
    """uint8 NHWC RGB -> float32 NCHW in FaceNet's fixed ``(x - 127.5) / 128`` scale."""
    x = crops.astype(np.float32)
    x -= 127.5
    x *= 1.0 / 128.0  # 1/128 is exact in binary, so this equals the division
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _as_crops(crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
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


def _onnx_stem(spec: str, weights: ModelInfo) -> str:
    # The default weights get a stable, readable name; other weights are keyed by content.
    return MODEL_NAME if spec == DEFAULT_SPEC else f"facenet-{weights.sha256[:16]}"


def export_onnx_bytes(model: torch.nn.Module, *, input_size: int = CROP_SIZE, output_name: str = "embeddings"
                      ) -> bytes:
    """Export a network of square image batches (eval, CPU, float32; InceptionResnetV1 by default)
    to ONNX with a dynamic batch axis: `input` (batch, 3, size, size) -> `output_name`."""
    import torch

    dummy = torch.zeros(2, 3, input_size, input_size)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript and handles
        # this plain conv net fine; dynamo=True would add a dependency for nothing.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy,),
            buf,
            input_names=["input"],
            output_names=[output_name],
            dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def ensure_onnx_export(models_dir: Path | str | None = None, spec: str = DEFAULT_SPEC) -> OnnxFile:
    """Return the cached ONNX export of ``spec``'s network, exporting when missing or stale.

    The sidecar ``<name>.onnx.json`` records the export's sha256 and the sha256 of
    the weights it came from, so new weights (or a corrupted file) trigger a re-export.
    """
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    weights = describe_weights(spec, models_dir)
    path = models_dir / f"{_onnx_stem(spec, weights)}.onnx"

    def export() -> tuple[bytes, dict]:
        import torch

        model, loaded = load_facenet(spec, models_dir, "cpu")
        if loaded.sha256 != weights.sha256:
            raise RuntimeError(f"weights for {spec!r} changed during export")
        return export_onnx_bytes(model.float()), {
            "weights_name": weights.name,
            "weights_version": weights.version,
            "opset": ONNX_OPSET,
            "torch": torch.__version__,
            "input": "input: float32 (batch, 3, 160, 160), (x - 127.5) / 128",
            "output": "embeddings: float32 (batch, 512), L2-normalised",
        }

    sha = ensure_cached_export(path, models_dir, {"weights_sha256": weights.sha256}, export)
    return OnnxFile(path=path, sha256=sha, weights=weights)


class FaceEmbedder:
    """Embeds batches of aligned face crops into L2-normalised 512-d vectors.

    ``device='auto'`` picks CUDA when available (half precision there);
    ``backend='auto'`` is CPU_AUTO_BACKEND on CPU and torch on CUDA. ``'onnx-int8'``
    runs the int8 model (quantised on first use when ``make weights`` has not, from
    the LFW images in ``calibration_dir``); it embeds with the same weights, so
    ``model_info`` is the same as for the other backends. The network is loaded on
    first use, once; calls are safe from several threads.
    """

    def __init__(
        self,
        weights: str = DEFAULT_SPEC,
        models_dir: Path | str | None = None,
        device: Device = "auto",
        backend: Backend = "auto",
        batch_size: int = 32,
        *,
        half: bool | None = None,
        calibration_dir: Path | str | None = None,
    ) -> None:
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if backend not in BACKENDS:
            names = ", ".join(repr(b) for b in BACKENDS)
            raise ValueError(f"unknown embedding backend {backend!r}: expected one of {names}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.weights = weights
        self.models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
        self.batch_size = batch_size
        self._requested_device = device
        self._requested_backend = backend
        self._half = half
        self.calibration_dir = calibration_dir
        self._resolved: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._torch_model: torch.nn.Module | None = None
        self._session: onnxruntime.InferenceSession | None = None
        self._info: ModelInfo | None = None

    # -- configuration ------------------------------------------------------------

    def _resolve(self) -> tuple[str, str]:
        if self._resolved is None:
            device = self._requested_device
            if device == "auto" or device == "cuda":
                has_cuda = cuda_available()  # imports torch only where there is a CUDA driver
                if device == "cuda" and not has_cuda:
                    raise RuntimeError("device='cuda' requested but torch sees no CUDA device")
                device = "cuda" if has_cuda else "cpu"
            backend = self._requested_backend
            if backend == "auto":
                backend = CPU_AUTO_BACKEND if device == "cpu" else "torch"
            if backend in ONNX_BACKENDS and device != "cpu":
                raise ValueError(f"the {backend} backend runs on CPU only; use backend='torch' for CUDA")
            self._resolved = (device, backend)
        return self._resolved

    @property
    def device(self) -> str:
        return self._resolve()[0]

    @property
    def backend(self) -> str:
        return self._resolve()[1]

    @property
    def half(self) -> bool:
        return self.device == "cuda" if self._half is None else self._half

    @property
    def model_info(self) -> ModelInfo:
        """Name, version and sha256 of the weights (loads the model if not yet loaded)."""
        self._ensure_loaded()
        assert self._info is not None
        return self._info

    # -- loading ------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._info is not None:
            return
        with self._lock:
            if self._info is not None:
                return
            device, backend = self._resolve()
            if backend == "onnx-int8" and self._requested_backend == "auto":
                self._session, info = self._load_int8_or_fp32()
            elif backend in ONNX_BACKENDS:
                self._session, info = self._load_onnx(int8=backend == "onnx-int8")
            else:
                self._torch_model, info = self._load_torch(device)
            self._info = info  # set last: it marks the embedder as loaded

    def _load_torch(self, device: str) -> tuple[torch.nn.Module, ModelInfo]:
        model, info = load_facenet(self.weights, self.models_dir, device)
        if self.half:
            model = model.half()
        return model, info

    def _load_int8_or_fp32(self) -> tuple[onnxruntime.InferenceSession, ModelInfo]:
        """'auto' on CPU: the int8 model, or the fp32 export where there is no int8 model
        and no LFW to calibrate one on (e.g. a container without ../shared/data)."""
        from recognition.pipeline.quantization import CalibrationDataMissing

        try:
            return self._load_onnx(int8=True)
        except CalibrationDataMissing as exc:
            logger.warning("int8 embedder unavailable, using the fp32 ONNX export: %s", exc)
            self._resolved = ("cpu", "onnx")
            return self._load_onnx()

    def _load_onnx(self, *, int8: bool = False) -> tuple[onnxruntime.InferenceSession, ModelInfo]:
        import onnxruntime as ort

        if int8:
            from recognition.pipeline.quantization import ensure_int8_export

            onnx_file: OnnxFile | Int8OnnxFile = ensure_int8_export(
                self.models_dir, self.weights, lfw_dir=self.calibration_dir)
        else:
            onnx_file = ensure_onnx_export(self.models_dir, self.weights)
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(onnx_file.path), options, providers=["CPUExecutionProvider"])
        return session, onnx_file.weights

    # -- inference ----------------------------------------------------------------

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Raw network output for one standardised NCHW float32 batch."""
        if self._session is not None:
            return self._session.run(["embeddings"], {"input": batch})[0]
        import torch

        assert self._torch_model is not None
        x = torch.from_numpy(batch).to(self.device)
        if self.half:
            x = x.half()
        with torch.inference_mode():
            out = self._torch_model(x)
        return out.float().cpu().numpy()

    def _embed_standardised(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], EMBEDDING_DIM), np.float32)
        for start in range(0, x.shape[0], self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._run(x[start:stop])
        # Re-normalise in float32: the network normalises already, but half precision
        # on CUDA leaves norms off by ~1e-3.
        return l2_normalise(out)

    def embed(self, crops: np.ndarray | Sequence[np.ndarray], *, tta: bool = False) -> np.ndarray:
        """Embed uint8 RGB crops (N, 160, 160, 3) -> float32 (N, 512), rows of unit length.

        ``tta``: horizontal-flip test time augmentation, the re-normalised mean of the
        embeddings of each crop and of its mirror image.
        """
        arr = _as_crops(crops)
        if arr.shape[0] == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        self._ensure_loaded()
        x = standardise(arr)
        emb = self._embed_standardised(x)
        if tta:
            mirrored = np.ascontiguousarray(x[:, :, :, ::-1])  # NCHW: flip the width axis
            emb = l2_normalise(emb + self._embed_standardised(mirrored))
        return emb

    def __repr__(self) -> str:
        where = f"{self._resolved[0]}/{self._resolved[1]}" if self._resolved else "unresolved"
        return f"FaceEmbedder(weights={self.weights!r}, {where}, batch_size={self.batch_size})"


__all__ = [
    "BACKENDS",
    "CPU_AUTO_BACKEND",
    "CROP_SIZE",
    "EMBEDDING_DIM",
    "FaceEmbedder",
    "OnnxFile",
    "ensure_onnx_export",
    "export_onnx_bytes",
    "l2_normalise",
    "standardise",
]
