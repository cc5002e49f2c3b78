"""recognition.runtime: the process-wide pipeline is built from settings."""

import json
import os
import subprocess
import sys

import pytest

from recognition import runtime
from tests.conftest import REPO_ROOT
from tests.shared_data import LFW_IMAGES


def test_detection_skips_the_pyramid_levels_under_the_quality_minimum(settings):
    settings.FACEREC_MIN_DETECT_FACE_PX = None
    settings.FACEREC_QUALITY = {**settings.FACEREC_QUALITY, "min_face_px": 40.0}
    assert runtime.detection_min_face_px() == pytest.approx(20 / 0.709)  # 28.2 px: one level under 40
    settings.FACEREC_QUALITY = {**settings.FACEREC_QUALITY, "min_face_px": 60.0}
    assert runtime.detection_min_face_px() == pytest.approx(20 / 0.709**2)


def test_a_configured_detection_face_size_wins(settings):
    settings.FACEREC_MIN_DETECT_FACE_PX = 20.0
    assert runtime.detection_min_face_px() == 20.0


def test_the_pipeline_detects_with_onnx_networks_from_the_configured_models_dir(settings):
    detector = runtime.get_pipeline().detector
    assert detector.backend == "onnx"  # CPU
    assert detector.models_dir == settings.FACEREC_MODELS_DIR
    assert detector.min_face_size == runtime.detection_min_face_px()


IDENTIFY_PATH_PROBE = """
import json, sys
import django
django.setup()
from recognition.pipeline.devices import has_cuda_driver
from recognition.runtime import get_liveness_checker, get_pipeline, read_image_file
image = read_image_file(sys.argv[1])
faces = get_pipeline().process([image], select="all")[0]
get_liveness_checker().probabilities([image], [[f.detection for f in faces]])
print(json.dumps([len(faces), "torch" in sys.modules, has_cuda_driver()]))
"""


def test_a_process_without_a_gpu_detects_embeds_and_checks_liveness_without_importing_torch():
    photo = sorted((LFW_IMAGES / "George_W_Bush").glob("*.jpg"))[0]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "facerec_site.settings", "FACEREC_DEVICE": "auto"}
    result = subprocess.run([sys.executable, "-c", IDENTIFY_PATH_PROBE, str(photo)], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    faces, torch_imported, driver = json.loads(result.stdout.strip().splitlines()[-1])
    assert faces == 1
    assert torch_imported == driver  # only a machine with an NVIDIA driver needs torch to answer
