"""Tests for recognition.pipeline.quality: enrollment checks on real and altered LFW photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from recognition.pipeline.detection import Detection, FaceDetector, crop_face
from recognition.pipeline.images import load_image_file
from tests.shared_data import LFW_IMAGES
from recognition.pipeline.quality import (
    QualityReport,
    QualityThresholds,
    assess_quality,
    roll_degrees,
    sharpness,
    yaw_ratio,
)

LFW = LFW_IMAGES

LARGEST = QualityThresholds(policy="largest")


@pytest.fixture(scope="module")
def detector(facenet_models_dir) -> FaceDetector:
    return FaceDetector(device="cpu", models_dir=facenet_models_dir)


@pytest.fixture(scope="module")
def bush() -> np.ndarray:
    return load_image_file(LFW / "George_W_Bush/George_W_Bush_0001.jpg")


@pytest.fixture(scope="module")
def eckhart() -> np.ndarray:
    return load_image_file(LFW / "Aaron_Eckhart/Aaron_Eckhart_0001.jpg")


def check(
    detector: FaceDetector, image: np.ndarray, thresholds: QualityThresholds | None = None
) -> QualityReport:
    return assess_quality(image, detector.detect(image), None, thresholds)


def test_good_photo_passes(detector: FaceDetector, bush: np.ndarray) -> None:
    report = check(detector, bush)
    assert report.ok, report.failures
    assert report.failures == [] and report.codes == []
    assert report.detection is not None and report.detection.probability > 0.99
    for key in ("face_count", "face_px", "probability", "sharpness", "roll_deg", "yaw_ratio"):
        assert key in report.figures
    t = QualityThresholds()
    assert report.figures["sharpness"] > t.min_sharpness
    assert abs(report.figures["roll_deg"]) < 5
    assert abs(report.figures["yaw_ratio"]) < t.max_yaw_ratio


def test_given_crop_is_used(detector: FaceDetector, bush: np.ndarray) -> None:
    faces = detector.detect(bush)
    flat = np.full((160, 160, 3), 128, np.uint8)
    report = assess_quality(bush, faces, flat)
    assert report.codes == ["blurry"]
    assert report.figures["sharpness"] == 0.0


def test_two_faces(detector: FaceDetector, bush: np.ndarray, eckhart: np.ndarray) -> None:
    canvas = np.concatenate([bush, eckhart], axis=1)  # 500x250
    faces = detector.detect(canvas)
    assert len(faces) == 2

    single = assess_quality(canvas, faces)
    assert not single.ok
    assert single.codes == ["multiple_faces"]
    failure = single.failures[0]
    assert failure.figure == 2 and failure.limit == 1 and failure.message

    largest = assess_quality(canvas, faces, thresholds=LARGEST)
    assert largest.ok, largest.failures
    assert largest.detection is not None
    assert largest.detection.area == max(f.area for f in faces)


def test_small_background_face_does_not_count(detector: FaceDetector) -> None:
    # Bush in front of two colleagues: one background face is 45 px wide, the other 37 px.
    # Only faces that could pass the size and confidence checks on their own count.
    image = load_image_file(LFW / "George_W_Bush/George_W_Bush_0018.jpg")
    faces = detector.detect(image)
    assert len(faces) == 3
    report = assess_quality(image, faces)
    assert report.codes == ["multiple_faces"]
    assert report.figures["face_count"] == 3 and report.figures["significant_faces"] == 2
    assert assess_quality(image, faces, thresholds=LARGEST).ok


def test_blurred_photo_is_blurry(detector: FaceDetector, bush: np.ndarray) -> None:
    blurred = cv2.GaussianBlur(bush, (0, 0), 4)
    report = check(detector, blurred)
    assert "blurry" in report.codes
    failure = next(f for f in report.failures if f.code == "blurry")
    assert failure.figure < failure.limit == QualityThresholds().min_sharpness


def test_tiny_face(detector: FaceDetector, bush: np.ndarray) -> None:
    small = cv2.resize(bush, (40, 40), interpolation=cv2.INTER_AREA)
    canvas = np.full((250, 250, 3), 128, np.uint8)
    canvas[105:145, 105:145] = small
    report = check(detector, canvas)
    assert not report.ok
    assert {"face_too_small", "no_face"} & set(report.codes)
    if "face_too_small" in report.codes:
        assert report.figures["face_px"] < 40


def test_rotated_head_fails_roll(detector: FaceDetector, bush: np.ndarray) -> None:
    rotated = np.asarray(
        Image.fromarray(bush).rotate(40, resample=Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))
    )
    report = check(detector, rotated)
    assert "pose_roll" in report.codes
    assert 30 < abs(report.figures["roll_deg"]) < 50


def test_blank_image_has_no_face(detector: FaceDetector) -> None:
    report = check(detector, np.full((250, 250, 3), 255, np.uint8))
    assert not report.ok
    assert report.codes == ["no_face"]
    assert report.detection is None


def _face(landmarks: list[tuple[float, float]], prob: float = 0.999, size: float = 100) -> Detection:
    return Detection((0.0, 0.0, size, size), prob, tuple(landmarks))  # type: ignore[arg-type]


FRONTAL = [(35.0, 40.0), (65.0, 40.0), (50.0, 55.0), (38.0, 70.0), (62.0, 70.0)]


def test_pose_figures_on_synthetic_landmarks() -> None:
    assert roll_degrees(_face(FRONTAL)) == pytest.approx(0.0)
    assert yaw_ratio(_face(FRONTAL)) == pytest.approx(0.0)
    turned = [*FRONTAL[:2], (65.0, 55.0), *FRONTAL[3:]]  # nose under the right eye
    assert yaw_ratio(_face(turned)) == pytest.approx(0.5)
    # Rotating the whole face changes roll, not yaw.
    theta = np.deg2rad(30)
    rot = [
        (50 + (x - 50) * np.cos(theta) - (y - 50) * np.sin(theta),
         50 + (x - 50) * np.sin(theta) + (y - 50) * np.cos(theta))
        for x, y in turned
    ]
    assert roll_degrees(_face(rot)) == pytest.approx(30.0)
    assert yaw_ratio(_face(rot)) == pytest.approx(0.5)


def test_yaw_and_confidence_failures(bush: np.ndarray) -> None:
    turned = [*FRONTAL[:2], (65.0, 55.0), *FRONTAL[3:]]
    report = assess_quality(bush, [_face(turned, prob=0.9)], crop_face(bush, _face(FRONTAL)))
    assert set(report.codes) == {"pose_yaw", "low_confidence"}
    yaw = next(f for f in report.failures if f.code == "pose_yaw")
    assert yaw.figure == pytest.approx(0.5) and yaw.limit == QualityThresholds().max_yaw_ratio


def test_sharpness_of_flat_image_is_zero() -> None:
    assert sharpness(np.zeros((160, 160, 3), np.uint8)) == 0.0


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError):
        QualityThresholds(policy="any")  # type: ignore[arg-type]


def box_face(x1: float, y1: float, x2: float, y2: float, prob: float = 0.999) -> Detection:
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return Detection((x1, y1, x2, y2), prob, ((cx - 10, cy), (cx + 10, cy), (cx, cy + 5), (cx - 8, cy + 15),
                                              (cx + 8, cy + 15)))


def test_box_overlap_and_the_face_a_box_names():
    from recognition.pipeline.quality import box_overlap, face_at

    assert box_overlap((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_overlap((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    left, right = box_face(10, 10, 60, 60), box_face(100, 10, 150, 60)
    assert face_at([left, right], (98, 12, 152, 58)) is right
    assert face_at([left, right], (0, 100, 20, 120)) is None


def test_the_preselected_face_is_the_most_similar_else_the_largest_near_the_centre():
    from recognition.pipeline.quality import preselect_face

    small_centre, big_corner, big_centre = box_face(90, 90, 110, 110), box_face(0, 0, 60, 60), box_face(70, 70, 130, 130)
    assert preselect_face((200, 200, 3), [small_centre, big_corner, big_centre]) == 2
    # Same size: the nearer the centre. Area 3600 at the corner (discounted by about half) beats 400 at the centre.
    assert preselect_face((200, 200, 3), [small_centre, big_corner]) == 1
    assert preselect_face((200, 200, 3), [small_centre, big_corner], similarity_to_person=[0.7, 0.2]) == 0
