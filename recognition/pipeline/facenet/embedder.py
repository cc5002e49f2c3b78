"""Batched FaceNet embeddings from aligned 160x160 RGB face crops.

Crops are standardised with the fixed ``(x - 127.5) / 128`` (what the FaceNet
weights were trained with; not per-image prewhitening) and mapped to L2-normalised
float32 512-d vectors. Interchangeable backends: torch (eager, CUDA in half
precision), ONNX Runtime on CPU using an ONNX export of the same network cached
beside the converted weights, and ONNX Runtime on an int8 quantisation of that
export (facenet.int8). Models load lazily on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from recognition.pipeline.artifacts import required_models_dir
from recognition.pipeline.devices import cuda_available
from recognition.pipeline.facenet.constants import DEFAULT_SPEC, EMBEDDING_DIM
from recognition.pipeline.facenet.export import OnnxFile, ensure_onnx_export
from recognition.pipeline.facenet.int8 import CalibrationDataMissing, Int8OnnxFile, ensure_int8_export
from recognition.pipeline.facenet.loading import ModelInfo, load_facenet
from recognition.pipeline.facenet.preprocessing import as_crops, l2_normalise, standardise
from recognition.pipeline.onnx_models import OnnxModel

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

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


class FaceNetOnnx(OnnxModel):
    """FaceNet on ONNX Runtime: the fp32 export of `spec`'s weights, or its int8 model (quantised
    on first use where `make weights` has not, from the LFW images in `lfw_dir`)."""

    def __init__(self, models_dir: Path | str | None, spec: str = DEFAULT_SPEC, *, int8: bool = False,
                 lfw_dir: Path | str | None = None) -> None:
        super().__init__()
        self.models_dir, self.spec, self.int8, self.lfw_dir = models_dir, spec, int8, lfw_dir
        self.file: OnnxFile | Int8OnnxFile | None = None

    def model_file(self) -> Path:
        models_dir = required_models_dir(self.models_dir)
        self.file = (ensure_int8_export(models_dir, self.spec, lfw_dir=self.lfw_dir) if self.int8
                     else ensure_onnx_export(models_dir, self.spec))
        return self.file.path

    @property
    def weights(self) -> ModelInfo:
        """The weights embedded with (the same for the fp32 and the int8 model)."""
        self.load()
        assert self.file is not None
        return self.file.weights


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
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.batch_size = batch_size
        self._requested_device = device
        self._requested_backend = backend
        self._half = half
        self.calibration_dir = calibration_dir
        self._resolved: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._torch_model: torch.nn.Module | None = None
        self._session: FaceNetOnnx | None = None
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

    def _load_int8_or_fp32(self) -> tuple[FaceNetOnnx, ModelInfo]:
        """'auto' on CPU: the int8 model, or the fp32 export where there is no int8 model
        and no LFW to calibrate one on (e.g. a container without ../shared/data)."""
        try:
            return self._load_onnx(int8=True)
        except CalibrationDataMissing as exc:
            logger.warning("int8 embedder unavailable, using the fp32 ONNX export: %s", exc)
            self._resolved = ("cpu", "onnx")
            return self._load_onnx()

    def _load_onnx(self, *, int8: bool = False) -> tuple[FaceNetOnnx, ModelInfo]:
        model = FaceNetOnnx(self.models_dir, self.weights, int8=int8, lfw_dir=self.calibration_dir).load()
        return model, model.weights

    # -- inference ----------------------------------------------------------------

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Raw network output for one standardised NCHW float32 batch."""
        if self._session is not None:
            return self._session.run(batch, ["embeddings"])[0]
        import torch  # heavy: the torch backend only

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
        arr = as_crops(crops)
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


__all__ = ["BACKENDS", "CPU_AUTO_BACKEND", "FaceEmbedder", "FaceNetOnnx"]
