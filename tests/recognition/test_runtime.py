"""recognition.runtime: the process-wide pipeline is built from settings."""

import pytest

from recognition import runtime


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
