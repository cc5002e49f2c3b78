"""Static int8 quantisation of the FaceNet ONNX export, calibrated on real LFW faces.

The recipe follows ONNX Runtime's guidance for CNNs on x86 CPUs (``quantize_static``
docs): the model pre-processed first (shape inference, basic graph optimisation),
QDQ format, uint8 activations, int8 weights quantised per output channel, and no
``reduce_range`` (only needed on CPUs without VNNI, where it costs accuracy).
Choices beyond that were made by agreement with the fp32 embeddings (no labels
involved), each at the same speed: per-channel rather than per-tensor weights
(mean cosine 0.9993 vs 0.9970 on 100 LFW crops), and percentile activation ranges
(99.999th rather than min/max) with the first convolution (raw pixels) and the
final linear layer (the embedding itself) left in float, a sliver of the compute
(mean 1 - cosine 3.6e-4 vs 6.4e-4 on 1,541 LFW View 2 crops).
Activation ranges come from face crops of LFW View 1 *training* images that no
View 2 pair uses, so View 2 accuracy is never measured on a calibration image.
Crops are made as the pipeline makes them: MTCNN, the face nearest the image
centre, margin 32, 160 px.

The result is cached beside the fp32 export as ``<name>.int8.onnx`` with a sidecar
recording its sha256, the fp32 export's sha256 and the calibration recipe; a new
fp32 export (new weights) or a changed recipe triggers a new quantisation.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recognition.pipeline.artifacts import ensure_cached_export
from recognition.pipeline.detection import FaceDetector, crop_face, nearest_to_center
from recognition.pipeline.errors import WeightsUnavailable
from recognition.pipeline.facenet.constants import DEFAULT_SPEC
from recognition.pipeline.facenet.export import OnnxFile, ensure_onnx_export
from recognition.pipeline.facenet.loading import ModelInfo
from recognition.pipeline.facenet.preprocessing import standardise
from recognition.pipeline.images import load_image_file
from recognition.pipeline.lfw import read_pairs, unique_images

# Evenly spaced picks from the sorted candidate images: enough faces for stable
# activation ranges, few enough that `make weights` (MTCNN on 2 cores) stays quick.
CALIBRATION_IMAGES = 200
# The percentile calibrator stacks every batch's activations: batches must be of one size,
# so a remainder of fewer crops is left out.
CALIBRATION_BATCH = 8
# What the cache is keyed on besides the fp32 export: change any value and the
# int8 model is rebuilt. Descriptive strings are part of the key on purpose.
RECIPE: dict[str, Any] = {
    "calibration": {
        "dataset": "LFW deep-funneled",
        "images": "pairsDevTrain.txt (View 1 train) images used by no pairs.txt (View 2) pair, "
                  f"sorted by path, {CALIBRATION_IMAGES} evenly spaced (index i * n // {CALIBRATION_IMAGES})",
        "crop": "MTCNN (min face 20 px), face nearest the image centre, margin 32, 160x160, "
                "images without a face skipped",
        "batches": f"{CALIBRATION_BATCH} crops, a smaller remainder left out",
        "method": "Percentile 99.999",
    },
    "quantization": {
        "preprocess": "onnxruntime.quantization.quant_pre_process",
        "format": "QDQ",
        "activations": "QUInt8",
        "weights": "QInt8",
        "per_channel": True,
        "reduce_range": False,
        "float_nodes": "the Conv on the input and the final Gemm/MatMul",
    },
}


class CalibrationDataMissing(WeightsUnavailable):
    """The LFW images to calibrate the int8 model on are not there."""


@dataclass(frozen=True)
class Int8OnnxFile:
    """A cached int8 model and the fp32 export it was quantised from."""

    path: Path
    sha256: str
    fp32: OnnxFile

    @property
    def weights(self) -> ModelInfo:
        return self.fp32.weights


def calibration_images(lfw_dir: Path | str | None) -> list[Path]:
    """The fixed, ordered list of images the int8 model is calibrated on, from the LFW folder
    `lfw_dir` (the caller's: ``make weights`` passes ../shared/data/lfw)."""
    if lfw_dir is None:
        raise CalibrationDataMissing(
            "no LFW folder given to calibrate the int8 embedder on; run `make weights` where ../shared/data "
            "is present, or use backend 'onnx'"
        )
    root = Path(lfw_dir)
    dev_train, view2 = root / "pairsDevTrain.txt", root / "pairs.txt"
    if not dev_train.is_file() or not view2.is_file():
        raise CalibrationDataMissing(
            f"LFW protocol files not found in {root} (need pairsDevTrain.txt and pairs.txt) to calibrate "
            "the int8 embedder; run `make weights` where ../shared/data is present, or use backend 'onnx'"
        )
    used_by_view2 = set(unique_images(read_pairs(view2, root)))
    candidates = [p for p in unique_images(read_pairs(dev_train, root)) if p not in used_by_view2]
    n = len(candidates)
    if n == 0:
        raise CalibrationDataMissing(f"no View 1 training image outside View 2 in {root}")
    count = min(CALIBRATION_IMAGES, n)
    return [candidates[i * n // count] for i in range(count)]


def calibration_crops(paths: list[Path], detector: Any = None, models_dir: Path | None = None) -> np.ndarray:
    """uint8 (N, 160, 160, 3) crops of the face nearest each image's centre, in ``paths`` order
    (MTCNN from `models_dir` unless a `detector` is given)."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise CalibrationDataMissing(f"{len(missing)} LFW calibration images missing (first: {missing[0]})")
    detector = detector or FaceDetector(device="cpu", min_face_size=20, models_dir=models_dir)
    crops: list[np.ndarray] = []
    for start in range(0, len(paths), CALIBRATION_BATCH):
        images = [load_image_file(p) for p in paths[start:start + CALIBRATION_BATCH]]
        for image, dets in zip(images, detector.detect_many(images)):
            face = nearest_to_center(dets, image.shape)
            if face is not None:
                crops.append(crop_face(image, face, size=160, margin=32))
    if not crops:
        raise CalibrationDataMissing("no face found in any LFW calibration image")
    return np.stack(crops)


class _CropBatches:
    """onnxruntime CalibrationDataReader over standardised crop batches (duck-typed)."""

    def __init__(self, crops: np.ndarray, input_name: str = "input") -> None:
        whole = len(crops) - len(crops) % CALIBRATION_BATCH
        self._batches: Iterator[dict[str, np.ndarray]] = (
            {input_name: standardise(crops[i:i + CALIBRATION_BATCH])} for i in range(0, whole, CALIBRATION_BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def float_nodes(model_path: Path) -> list[str]:
    """Nodes left in float: the convolution on the raw pixels and the final linear layer."""
    import onnx  # heavy, and only quantising needs it

    graph = onnx.load(str(model_path), load_external_data=False).graph
    inputs = {i.name for i in graph.input}
    first = [n.name for n in graph.node if n.op_type == "Conv" and n.input[0] in inputs]
    linear = [n.name for n in graph.node if n.op_type in ("Gemm", "MatMul")]
    if len(first) != 1 or len(linear) != 1:
        raise ValueError(f"expected one input Conv and one Gemm/MatMul in {model_path.name}, "
                         f"found {first} and {linear}")
    return first + linear


def quantize_bytes(fp32_path: Path, crops: np.ndarray) -> bytes:
    """The int8 (QDQ) model of the fp32 ONNX file at ``fp32_path``, calibrated on ``crops``."""
    from onnxruntime.quantization import (  # heavy: only quantising
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    q = RECIPE["quantization"]
    with tempfile.TemporaryDirectory(prefix="facenet-int8-") as tmp:
        prepared, out = Path(tmp) / "model.prep.onnx", Path(tmp) / "model.int8.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared), str(out), _CropBatches(crops),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=q["per_channel"],
            reduce_range=q["reduce_range"],
            nodes_to_exclude=float_nodes(prepared),
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.999},
        )
        return out.read_bytes()


def _int8_path(fp32: OnnxFile) -> Path:
    return fp32.path.with_suffix(".int8.onnx")


def ensure_int8_export(models_dir: Path | str, spec: str = DEFAULT_SPEC, *,
                       lfw_dir: Path | str | None = None) -> Int8OnnxFile:
    """Return the cached int8 model of ``spec``'s ONNX export, quantising when missing or stale
    (quantised from another export or with another recipe).

    Quantising needs the LFW images (``lfw_dir``; a cached model needs none) and MTCNN; it
    takes a minute or two on 2 cores, so ``make weights`` does it ahead of use.
    Raises CalibrationDataMissing when the images are not there.
    """
    models_dir = Path(models_dir)
    fp32 = ensure_onnx_export(models_dir, spec)
    path = _int8_path(fp32)

    def quantize() -> tuple[bytes, dict]:
        import onnxruntime  # heavy: only quantising

        crops = calibration_crops(calibration_images(lfw_dir), models_dir=models_dir)
        return quantize_bytes(fp32.path, crops), {
            "fp32_onnx": fp32.path.name,
            "weights_sha256": fp32.weights_sha256,
            "calibration_crops": len(crops),
            "calibration_crops_sha256": hashlib.sha256(crops.tobytes()).hexdigest(),
            "onnxruntime": onnxruntime.__version__,
            "input": "input: float32 (batch, 3, 160, 160), (x - 127.5) / 128",
            "output": "embeddings: float32 (batch, 512), L2-normalised",
        }

    sha = ensure_cached_export(path, models_dir, {"fp32_onnx_sha256": fp32.sha256, "recipe": RECIPE}, quantize)
    return Int8OnnxFile(path=path, sha256=sha, fp32=fp32)


__all__ = [
    "CALIBRATION_IMAGES",
    "RECIPE",
    "CalibrationDataMissing",
    "Int8OnnxFile",
    "calibration_crops",
    "calibration_images",
    "ensure_int8_export",
    "quantize_bytes",
]
