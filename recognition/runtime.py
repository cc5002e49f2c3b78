"""The process-wide face pipeline, configured from settings.

Workers, views and management commands share one detector and one embedder per
process; they load their networks lazily on first use, never at import time.
"""

from __future__ import annotations

import functools

from django.conf import settings

from recognition.pipeline.detection import FaceDetector
from recognition.pipeline.embedding import FaceEmbedder
from recognition.pipeline.faces import FacePipeline


def torch_device() -> str:
    """The device MTCNN runs on: FACEREC_DEVICE, with `auto` meaning CUDA when present."""
    if settings.FACEREC_DEVICE != "auto":
        return settings.FACEREC_DEVICE
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def get_embedder() -> FaceEmbedder:
    return FaceEmbedder(
        weights=settings.FACEREC_WEIGHTS,
        models_dir=settings.FACEREC_MODELS_DIR,
        device=settings.FACEREC_DEVICE,
        backend=settings.FACEREC_EMBEDDING_BACKEND,
        batch_size=settings.FACEREC_EMBEDDING_BATCH_SIZE,
    )


@functools.cache
def get_pipeline() -> FacePipeline:
    detector = FaceDetector(device=torch_device(), min_face_size=settings.FACEREC_MIN_DETECT_FACE_PX)
    return FacePipeline(detector, get_embedder(), crop_size=settings.FACEREC_CROP_SIZE,
                        margin=settings.FACEREC_CROP_MARGIN)


@functools.cache
def quality_thresholds():
    from recognition.pipeline.quality import QualityThresholds

    return QualityThresholds(**settings.FACEREC_QUALITY)
