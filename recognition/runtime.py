"""The process-wide face pipeline, configured from settings.

Workers, views and management commands share one detector and one embedder per
process; they load their networks lazily on first use, never at import time.
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from recognition.pipeline.detection import FaceDetector, min_face_size_for
from recognition.pipeline.devices import cuda_available
from recognition.pipeline.facenet.embedder import FaceEmbedder
from recognition.pipeline.faces import FacePipeline
from recognition.pipeline.images import load_image
from recognition.pipeline.liveness import DEFAULT_THRESHOLD, LivenessChecker
from recognition.pipeline.quality import QualityThresholds


def torch_device() -> str:
    """The device MTCNN runs on: FACEREC_DEVICE, with `auto` meaning CUDA when present."""
    if settings.FACEREC_DEVICE != "auto":
        return settings.FACEREC_DEVICE
    return "cuda" if cuda_available() else "cpu"


def get_embedder() -> FaceEmbedder:
    """The embedder of the serving weights (FACEREC_WEIGHTS)."""
    return get_embedder_for(settings.FACEREC_WEIGHTS)


@functools.cache
def get_embedder_for(weights: str) -> FaceEmbedder:
    """Any weights spec: the re-embedding job uses the *next* weights while the web serves the current."""
    return FaceEmbedder(
        weights=weights,
        models_dir=settings.FACEREC_MODELS_DIR,
        device=settings.FACEREC_DEVICE,
        backend=settings.FACEREC_EMBEDDING_BACKEND,
        batch_size=settings.FACEREC_EMBEDDING_BATCH_SIZE,
        calibration_dir=int8_calibration_dir(),
    )


def int8_calibration_dir() -> Path:
    """LFW, to quantise the int8 embedder where `make weights` has not: ../shared/data/lfw beside
    the checkout (the pipeline knows no folder of its own)."""
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "lfw"


def detection_min_face_px() -> float:
    """MTCNN's smallest face: FACEREC_MIN_DETECT_FACE_PX, else the pyramid level one step
    under the enrollment quality minimum (faces smaller than that are not worth finding)."""
    if settings.FACEREC_MIN_DETECT_FACE_PX is not None:
        return settings.FACEREC_MIN_DETECT_FACE_PX
    return min_face_size_for(settings.FACEREC_QUALITY["min_face_px"])


def get_pipeline() -> FacePipeline:
    return get_pipeline_for(settings.FACEREC_WEIGHTS)


@functools.cache
def get_pipeline_for(weights: str) -> FacePipeline:
    detector = FaceDetector(device=torch_device(), min_face_size=detection_min_face_px(),
                            models_dir=settings.FACEREC_MODELS_DIR)
    return FacePipeline(detector, get_embedder_for(weights), crop_size=settings.FACEREC_CROP_SIZE,
                        margin=settings.FACEREC_CROP_MARGIN)


@functools.cache
def get_liveness_checker() -> LivenessChecker:
    """The passive liveness check (two MiniFASNets), loaded on first use like the embedder."""
    threshold = settings.FACEREC_LIVENESS_THRESHOLD
    return LivenessChecker(models_dir=settings.FACEREC_MODELS_DIR,
                           threshold=DEFAULT_THRESHOLD if threshold is None else threshold)


@functools.cache
def quality_thresholds():
    return QualityThresholds(**settings.FACEREC_QUALITY)


def decode_image(data: bytes):
    """Image bytes -> RGB array under the configured byte and pixel limits (raises ImageRejected)."""
    return load_image(data, max_bytes=settings.FACEREC_MAX_UPLOAD_BYTES,
                      max_pixels=settings.FACEREC_MAX_IMAGE_PIXELS)


def read_image_file(path_or_field):
    """A stored photo (FieldFile) or a file path, decoded as `decode_image` does."""
    if hasattr(path_or_field, "open"):
        with path_or_field.open("rb") as fh:
            return decode_image(fh.read())
    with open(path_or_field, "rb") as fh:
        return decode_image(fh.read(settings.FACEREC_MAX_UPLOAD_BYTES + 1))
