"""Tests for recognition.pipeline.detection on real LFW and ORL photos (MTCNN on CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from recognition.pipeline.detection import (
    Detection,
    FaceDetector,
    crop_box,
    crop_face,
    largest,
    nearest_to_center,
    pad_image,
)
from recognition.pipeline.images import load_image_file
from tests.shared_data import LFW_IMAGES, ORL_DIR

LFW = LFW_IMAGES
ORL = ORL_DIR


@pytest.fixture(scope="module")
def detector(facenet_models_dir) -> FaceDetector:
    return FaceDetector(device="cpu", models_dir=facenet_models_dir)


@pytest.fixture(scope="module")
def bush() -> np.ndarray:
    return load_image_file(LFW / "George_W_Bush/George_W_Bush_0001.jpg")


@pytest.fixture(scope="module")
def eckhart() -> np.ndarray:
    return load_image_file(LFW / "Aaron_Eckhart/Aaron_Eckhart_0001.jpg")


@pytest.fixture(scope="module")
def bush_faces(detector: FaceDetector, bush: np.ndarray) -> list[Detection]:
    return detector.detect(bush)


def inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def test_single_lfw_face(bush_faces: list[Detection]) -> None:
    assert len(bush_faces) == 1
    face = bush_faces[0]
    assert face.probability > 0.99
    cx, cy = face.center
    assert abs(cx - 125) < 25 and abs(cy - 125) < 25  # LFW faces are centred
    assert 60 < face.width < 160 and 60 < face.height < 160
    assert len(face.landmarks) == 5
    assert all(inside(p, face.box) for p in face.landmarks)
    (lx, _), (rx, _) = face.landmarks[:2]
    assert lx < rx  # left eye is on the image's left
    assert all(isinstance(v, float) for v in face.box)


def test_detection_is_plain_and_immutable(bush_faces: list[Detection]) -> None:
    face = bush_faces[0]
    with pytest.raises(AttributeError):
        face.probability = 0.5  # type: ignore[misc]
    assert face.area == pytest.approx(face.width * face.height)
    moved = face.shifted(10, -5)
    assert moved.box[0] == pytest.approx(face.box[0] + 10)
    assert moved.landmarks[2][1] == pytest.approx(face.landmarks[2][1] - 5)


def test_three_faces_side_by_side(
    detector: FaceDetector, bush: np.ndarray, eckhart: np.ndarray
) -> None:
    canvas = np.concatenate([eckhart, bush, eckhart[:, ::-1]], axis=1)  # 750x250
    faces = detector.detect(canvas)
    assert len(faces) == 3
    probs = [f.probability for f in faces]
    assert probs == sorted(probs, reverse=True)
    middle = nearest_to_center(faces, canvas.shape)
    assert middle is not None and 250 < middle.center[0] < 500
    biggest = largest(faces)
    assert biggest is not None and biggest.area == max(f.area for f in faces)


def test_nearest_to_center_on_real_group_photo(detector: FaceDetector) -> None:
    # Bush with two smaller faces in the background; the labelled face is the centred one.
    image = load_image_file(LFW / "George_W_Bush/George_W_Bush_0018.jpg")
    faces = detector.detect(image)
    assert len(faces) >= 2
    chosen = nearest_to_center(faces, image.shape)
    assert chosen is not None
    assert abs(chosen.center[0] - 125) < 30 and abs(chosen.center[1] - 125) < 30
    assert chosen is largest(faces)


def test_selectors_on_empty() -> None:
    assert nearest_to_center([], (250, 250, 3)) is None
    assert largest([]) is None


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((250, 250, 3), np.uint8),
        np.full((250, 250, 3), 200, np.uint8),
        np.random.default_rng(0).integers(0, 256, (250, 250, 3), dtype=np.uint8),
        np.zeros((10, 10, 3), np.uint8),  # smaller than min_face_size: no pyramid at all
    ],
    ids=["black", "grey", "noise", "tiny"],
)
def test_no_face_gives_empty_list(detector: FaceDetector, image: np.ndarray) -> None:
    assert detector.detect(image) == []


def test_bad_input_shape(detector: FaceDetector) -> None:
    with pytest.raises(ValueError):
        detector.detect(np.zeros((50, 50, 4), np.uint8))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((50, 50, 3), np.float32))


def test_detect_many_batches_and_matches_single(
    detector: FaceDetector, bush: np.ndarray, eckhart: np.ndarray
) -> None:
    orl = load_image_file(ORL / "s1/1.pgm")  # a different shape: its own batch
    blank = np.zeros_like(bush)
    results = detector.detect_many([bush, orl, eckhart, blank])
    assert [len(r) for r in results] == [1, 1, 1, 0]
    for image, batched in zip([bush, orl, eckhart], results):
        single = detector.detect(image)
        assert np.allclose(single[0].box, batched[0].box, atol=1e-3)
        assert single[0].probability == pytest.approx(batched[0].probability, abs=1e-5)
    assert detector.detect_many([]) == []


def test_model_loads_once(detector: FaceDetector, bush: np.ndarray) -> None:
    detector.detect(bush)
    first = detector.mtcnn
    detector.detect(bush)
    assert detector.mtcnn is first


def test_lazy_loading() -> None:
    fresh = FaceDetector()
    assert fresh._mtcnn is None  # constructing costs nothing until first use


# --- cropping --------------------------------------------------------------------------------


def test_crop_shape_and_dtype(bush: np.ndarray, bush_faces: list[Detection]) -> None:
    crop = crop_face(bush, bush_faces[0])
    assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
    assert crop_face(bush, bush_faces[0], size=112, margin=0).shape == (112, 112, 3)


@pytest.mark.parametrize("margin", [0, 32, 44])
def test_crop_matches_facenet_extract_face(
    bush: np.ndarray, bush_faces: list[Detection], margin: int
) -> None:
    from facenet_pytorch.models.mtcnn import extract_face

    face = bush_faces[0]
    ours = crop_face(bush, face, size=160, margin=margin)
    theirs = extract_face(bush, np.array(face.box), image_size=160, margin=margin)
    theirs_hwc = theirs.permute(1, 2, 0).numpy()
    assert np.abs(ours.astype(np.float32) - theirs_hwc).max() <= 1.0


def test_crop_matches_mtcnn_forward(bush: np.ndarray, detector: FaceDetector) -> None:
    # facenet-pytorch's own end-to-end path: MTCNN(image_size=160, margin=32) on numpy input.
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(image_size=160, margin=32, keep_all=True, post_process=False)
    theirs = mtcnn(bush)[0].permute(1, 2, 0).numpy()
    ours = crop_face(bush, detector.detect(bush)[0])
    assert np.abs(ours.astype(np.float32) - theirs).max() <= 1.0


def test_crop_box_margin_semantics() -> None:
    det = Detection((50.0, 60.0, 114.0, 140.0), 0.99, ((0.0, 0.0),) * 5)  # 64 x 80
    # margin 32 of 160 output px: 32 * 64 / 128 = 16 extra px wide, 32 * 80 / 128 = 20 high
    assert crop_box(det, (250, 250), size=160, margin=32) == (42, 50, 122, 150)
    # clipped to the image
    assert crop_box(det, (120, 100), size=160, margin=32) == (42, 50, 100, 120)


def test_crop_outside_image_is_an_error(bush: np.ndarray) -> None:
    det = Detection((300.0, 300.0, 400.0, 400.0), 0.99, ((0.0, 0.0),) * 5)
    with pytest.raises(ValueError):
        crop_face(bush, det)


# --- tightly cropped ORL faces -------------------------------------------------------------


ORL_SAMPLE = [f"s{s}/{i}.pgm" for s in (1, 13, 35) for i in (1, 5)]


@pytest.fixture(scope="module")
def orl_images() -> list[np.ndarray]:
    return [load_image_file(ORL / name) for name in ORL_SAMPLE]


@pytest.fixture(scope="module")
def orl_faces(detector: FaceDetector, orl_images: list[np.ndarray]) -> list[list[Detection]]:
    return detector.detect_many(orl_images)


def test_orl_tight_crops_are_found(orl_faces: list[list[Detection]]) -> None:
    # On all 400 ORL images MTCNN finds a face with or without padding (see pipeline notes).
    assert all(len(r) >= 1 and r[0].probability > 0.95 for r in orl_faces)


def test_pad_ratio_maps_back_to_original_coordinates(
    detector: FaceDetector, orl_images: list[np.ndarray], orl_faces: list[list[Detection]]
) -> None:
    padded_faces = detector.detect_many(orl_images, pad_ratio=0.3)
    for image, plain, padded in zip(orl_images, orl_faces, padded_faces):
        assert padded, "padding must not lose the face"
        a, b = plain[0], padded[0]
        # Same face, in original coordinates: the centres agree within a few pixels.
        assert abs(a.center[0] - b.center[0]) < 12 and abs(a.center[1] - b.center[1]) < 12
        h, w = image.shape[:2]
        assert 0 <= b.center[0] <= w and 0 <= b.center[1] <= h
        assert crop_face(image, b).shape == (160, 160, 3)


def test_pad_image() -> None:
    image = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    padded, px, py = pad_image(image, 0.5)
    assert (px, py) == (2, 1)
    assert padded.shape == (4, 8, 3)
    assert np.array_equal(padded[py : py + 2, px : px + 4], image)
    assert np.array_equal(padded[0, 0], image[0, 0])  # edge replicated
