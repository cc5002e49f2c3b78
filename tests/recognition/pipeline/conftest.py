"""Session fixtures for the FaceNet weights/embedding tests: models load once per session.

The models dir is ``$FACEREC_MODELS_DIR`` or the repo's ``var/models``, so the
suite reuses the cache that ``make weights`` (run before ``make test``) prepared.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.shared_data import LFW_IMAGES

REPO_ROOT = Path(__file__).resolve().parents[3]
# A few different people (and two photos of one) from LFW, centre-cropped below.
LFW_SAMPLES = (
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "Colin_Powell/Colin_Powell_0001.jpg",
    "Colin_Powell/Colin_Powell_0002.jpg",
    "Serena_Williams/Serena_Williams_0001.jpg",
    "Gloria_Macapagal_Arroyo/Gloria_Macapagal_Arroyo_0001.jpg",
    "Hugo_Chavez/Hugo_Chavez_0001.jpg",
)


def lfw_centre_crop(path: Path) -> np.ndarray:
    """uint8 RGB 160x160: the central 160 px of a 250x250 deep-funneled LFW image."""
    import cv2

    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    h, w = bgr.shape[:2]
    top, left = (h - 160) // 2, (w - 160) // 2
    return np.ascontiguousarray(bgr[top : top + 160, left : left + 160, ::-1])


@pytest.fixture(scope="session")
def facenet_models_dir() -> Path:
    env = os.environ.get("FACEREC_MODELS_DIR")
    return Path(env) if env else REPO_ROOT / "var" / "models"


@pytest.fixture(scope="session")
def casia_weights(facenet_models_dir):
    from recognition.pipeline.facenet.loading import ensure_converted_weights

    return ensure_converted_weights(facenet_models_dir)


@pytest.fixture(scope="session")
def face_crops() -> np.ndarray:
    """Real face crops (N, 160, 160, 3) uint8 RGB."""
    paths = [LFW_IMAGES / p for p in LFW_SAMPLES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.fail(f"LFW images not found (set FACEREC_SHARED_DATA): {missing[:2]}")
    return np.stack([lfw_centre_crop(p) for p in paths])


@pytest.fixture(scope="session")
def casia_torch_model(facenet_models_dir, casia_weights):
    from recognition.pipeline.facenet.loading import load_facenet

    model, _info = load_facenet("casia-webface", facenet_models_dir, "cpu")
    return model


@pytest.fixture(scope="session")
def torch_embedder(facenet_models_dir, casia_weights):
    from recognition.pipeline.facenet.embedder import FaceEmbedder

    return FaceEmbedder(models_dir=facenet_models_dir, device="cpu", backend="torch", batch_size=4)


@pytest.fixture(scope="session")
def onnx_embedder(facenet_models_dir, casia_weights):
    from recognition.pipeline.facenet.embedder import FaceEmbedder

    return FaceEmbedder(models_dir=facenet_models_dir, device="cpu", backend="onnx", batch_size=4)
