"""The ONNX MTCNN (recognition.pipeline.mtcnn: the numpy port and the exports) against facenet-pytorch's, on real photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognition.pipeline import mtcnn
from recognition.pipeline.artifacts import sha256_file
from recognition.pipeline.detection import (
    ONNX_BATCH_PIXELS,
    Detection,
    FaceDetector,
    _chunks,
    min_face_size_for,
)
from recognition.pipeline.images import load_image_file
from recognition.pipeline.mtcnn.export import (
    NETS,
    ensure_mtcnn_onnx,
    export_mtcnn_bytes,
    onnx_path,
)
from tests.conftest import REPO_ROOT
from tests.shared_data import LFW_IMAGES, ORL_DIR

# One face each, and a group photo (George_W_Bush_0018: three faces).
LFW_SAMPLE = (
    "George_W_Bush/George_W_Bush_0001.jpg",
    "George_W_Bush/George_W_Bush_0018.jpg",
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "Serena_Williams/Serena_Williams_0001.jpg",
    "Hugo_Chavez/Hugo_Chavez_0001.jpg",
)
ORL_SAMPLE = ("s1/1.pgm", "s13/5.pgm", "s35/1.pgm")


@pytest.fixture(scope="module")
def mtcnn_files(facenet_models_dir):
    return ensure_mtcnn_onnx(facenet_models_dir)


@pytest.fixture(scope="module")
def lfw() -> list[np.ndarray]:
    return [load_image_file(LFW_IMAGES / name) for name in LFW_SAMPLE]


@pytest.fixture(scope="module")
def orl() -> list[np.ndarray]:
    return [load_image_file(ORL_DIR / name) for name in ORL_SAMPLE]


@pytest.fixture(scope="module")
def onnx_detector(facenet_models_dir, mtcnn_files) -> FaceDetector:
    return FaceDetector(backend="onnx", models_dir=facenet_models_dir)


@pytest.fixture(scope="module")
def torch_detector() -> FaceDetector:
    return FaceDetector(backend="torch")


def assert_same_faces(expected: list[Detection], got: list[Detection], tol_px: float = 1.0) -> None:
    assert len(got) == len(expected)
    for a, b in zip(expected, got):
        assert np.abs(np.subtract(a.box, b.box)).max() <= tol_px
        assert np.abs(np.subtract(a.landmarks, b.landmarks)).max() <= tol_px
        assert abs(a.probability - b.probability) < 1e-4


# --- export -----------------------------------------------------------------------------------


def test_exports_are_cached_with_sidecars(mtcnn_files, facenet_models_dir) -> None:
    assert set(mtcnn_files) == set(NETS)
    for net, f in mtcnn_files.items():
        assert f.path == onnx_path(facenet_models_dir, net) and f.path.is_file()
        meta = json.loads(Path(f"{f.path}.json").read_text())
        assert meta["sha256"] == f.sha256 == sha256_file(f.path)
        assert meta["source_sha256"] == f.source_sha256 == sha256_file(f.source_path)
        assert f.source_path.name == f"{net}.pt" and "facenet_pytorch" in str(f.source_path)
    mtimes = {net: f.path.stat().st_mtime_ns for net, f in mtcnn_files.items()}
    again = ensure_mtcnn_onnx(facenet_models_dir)
    assert {net: f.path.stat().st_mtime_ns for net, f in again.items()} == mtimes  # reused, not re-exported


def test_export_is_deterministic(mtcnn_files) -> None:
    # Byte for byte what an earlier process (make weights, or the first test run) cached.
    # P-Net is the quick one; all three go through the same exporter.
    assert export_mtcnn_bytes("pnet") == mtcnn_files["pnet"].path.read_bytes()


def test_corrupted_export_is_replaced(mtcnn_files, tmp_path) -> None:
    for f in mtcnn_files.values():
        shutil.copy2(f.path, tmp_path / f.path.name)
        shutil.copy2(f"{f.path}.json", tmp_path / f"{f.path.name}.json")
    broken = tmp_path / mtcnn_files["pnet"].path.name
    broken.write_bytes(b"not a model")
    fixed = ensure_mtcnn_onnx(tmp_path)
    assert fixed["pnet"].sha256 == mtcnn_files["pnet"].sha256 == sha256_file(broken)
    assert fixed["onet"].sha256 == mtcnn_files["onet"].sha256


def test_onnx_detection_needs_no_torch(mtcnn_files, facenet_models_dir) -> None:
    # With the exports cached, a worker detects faces without importing torch at all.
    code = (
        "import sys; from recognition.pipeline.detection import FaceDetector; "
        "from recognition.pipeline.images import load_image_file; "
        f"d = FaceDetector(models_dir={str(facenet_models_dir)!r}); "
        f"faces = d.detect(load_image_file({str(LFW_IMAGES / LFW_SAMPLE[0])!r})); "
        "assert d.backend == 'onnx' and len(faces) == 1, faces; "
        "assert 'torch' not in sys.modules and 'django' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


# --- the numpy algorithm ------------------------------------------------------------------------


def test_resampling_is_bit_identical_to_torch_area_interpolation(lfw) -> None:
    import torch
    from torch.nn.functional import interpolate

    images = np.stack(lfw[:2])
    integral = mtcnn.integral_images(images)
    tensor = torch.as_tensor(images).permute(0, 3, 1, 2).float()
    for scale in mtcnn.pyramid_scales(250, 250, 20, 0.709):
        size = (int(250 * scale + 1), int(250 * scale + 1))
        expected = ((interpolate(tensor, size=size, mode="area") - 127.5) * 0.0078125).numpy()
        assert np.array_equal(mtcnn.resample_batch(integral, *size), expected)
    # R-Net/O-Net patches: 1-based boxes, some reaching past the image edge (clipped by pad).
    boxes = np.array([[30, 40, 180, 200], [-10, -5, 60, 50], [200, 190, 270, 260], [90, 80, 101, 95]], np.float32)
    owner = np.array([0, 1, 0, 1])
    y, ey, x, ex = mtcnn.pad(boxes, np.full(4, 250), np.full(4, 250))
    for size in (24, 48):
        expected = np.concatenate([
            ((interpolate(tensor[b : b + 1, :, y0 - 1 : y1, x0 - 1 : x1], size=(size, size), mode="area") - 127.5)
             * 0.0078125).numpy()
            for b, y0, y1, x0, x1 in zip(owner, y, ey, x, ex)
        ])
        assert np.array_equal(mtcnn.resample_patches(integral, owner, y, ey, x, ex, size), expected)


def random_boxes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (n, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(8, 60, (n, 2)).astype(np.float32)], axis=1)
    scores = rng.integers(0, 20, n).astype(np.float32) / 19  # many ties, as saturated softmax gives
    return boxes, scores, rng.integers(0, 4, n)


def test_batched_nms_matches_torchvision() -> None:
    import torch
    from torchvision.ops import batched_nms

    boxes, scores, owner = random_boxes(300)
    for threshold in (0.5, 0.7):
        expected = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(owner), threshold)
        assert np.array_equal(mtcnn.batched_nms(boxes, scores, owner, threshold), expected.numpy())


def test_final_min_nms_matches_facenet_pytorch() -> None:
    import torch
    from facenet_pytorch.models.utils.detect_face import batched_nms_numpy

    boxes, scores, owner = random_boxes(200, seed=1)
    expected = batched_nms_numpy(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(owner), 0.7, "Min")
    assert np.array_equal(mtcnn.batched_nms_min(boxes, scores, owner, 0.7), expected.numpy())


def test_numpy_algorithm_with_facenet_nets_reproduces_facenet_detect(lfw, orl) -> None:
    # The port itself (no ONNX): fed facenet-pytorch's own torch nets, it must give its boxes.
    import torch
    from facenet_pytorch import MTCNN

    reference = MTCNN(keep_all=True, post_process=False)

    def run(net):
        def forward(x: np.ndarray):
            with torch.inference_mode():
                return tuple(t.numpy() for t in net(torch.from_numpy(x)))
        return forward

    port = mtcnn.MtcnnDetector(mtcnn.MtcnnNets(run(reference.pnet), run(reference.rnet), run(reference.onet)))
    images = [lfw[0], lfw[1], orl[0]]
    for image, (boxes, points) in zip(images, port.detect(images)):
        want_boxes, want_probs, want_points = (np.asarray(a, np.float64)  # MTCNN returns object arrays
                                               for a in reference.detect(image, landmarks=True))
        order = np.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[::-1]
        assert np.allclose(boxes[order, :4], want_boxes, atol=1e-3)
        assert np.allclose(boxes[order, 4], want_probs, atol=1e-6)
        assert np.allclose(points[order], want_points, atol=1e-3)


# --- FaceDetector: onnx against torch -------------------------------------------------------------


def test_onnx_finds_the_same_faces_as_torch_on_lfw(onnx_detector, torch_detector, lfw) -> None:
    expected = torch_detector.detect_many(lfw)
    got = onnx_detector.detect_many(lfw)
    assert [len(r) for r in got] == [1, 3, 1, 1, 1]
    for e, g in zip(expected, got):
        assert_same_faces(e, g)


def test_onnx_finds_the_same_faces_as_torch_on_orl(onnx_detector, torch_detector, orl) -> None:
    for pad in (0.0, 0.3):
        expected = torch_detector.detect_many(orl, pad_ratio=pad)
        got = onnx_detector.detect_many(orl, pad_ratio=pad)
        assert all(len(r) >= 1 for r in got)
        for e, g in zip(expected, got):
            assert_same_faces(e, g)


def test_mixed_sizes_in_one_call_match_single_calls(onnx_detector, lfw, orl) -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[115:365, 195:445] = lfw[0]
    images = [lfw[0], orl[0], frame, lfw[1], np.zeros((10, 10, 3), np.uint8)]
    together = onnx_detector.detect_many(images)
    assert [len(r) for r in together] == [1, 1, 1, 3, 0]
    for image, batched in zip(images, together):
        assert_same_faces(onnx_detector.detect(image), batched, tol_px=1e-3)
    # The frame's face is the LFW photo's, moved by the paste offset (the pyramid differs
    # with the image size, so the box only roughly).
    photo, framed = together[0][0].shifted(195, 115), together[2][0]
    assert np.abs(np.subtract(photo.center, framed.center)).max() < 8


def test_backend_choice() -> None:
    assert FaceDetector().backend == "onnx"
    assert FaceDetector(device="cuda").backend == "torch"
    assert FaceDetector(backend="torch").backend == "torch"
    with pytest.raises(ValueError):
        FaceDetector(device="cuda", backend="onnx")
    with pytest.raises(ValueError):
        FaceDetector(backend="tensorrt")  # type: ignore[arg-type]


def test_min_face_size_follows_the_quality_minimum() -> None:
    assert min_face_size_for(40) == pytest.approx(20 / 0.709)  # one pyramid step under 40 * 0.709
    assert min_face_size_for(60) == pytest.approx(20 / 0.709**2)
    assert min_face_size_for(25) == 20  # never above what the default pyramid looks for
    # Its levels are the default pyramid's, minus the largest ones.
    default = mtcnn.pyramid_scales(480, 640, 20, 0.709)
    assert [np.float32(s) for s in mtcnn.pyramid_scales(480, 640, min_face_size_for(40), 0.709)] == [
        np.float32(s) for s in default[1:]]


def test_quality_sized_pyramid_still_finds_faces_just_over_the_quality_minimum(onnx_detector, lfw,
                                                                               facenet_models_dir) -> None:
    import cv2

    # LFW photos shrunk so that their faces are about 42-47 px, just over the 40 px minimum.
    shrunk = [cv2.resize(im, (120, 120), interpolation=cv2.INTER_AREA) for im in lfw[:1] + lfw[2:]]
    canvases = [np.pad(im, ((65, 65), (65, 65), (0, 0)), mode="edge") for im in shrunk]
    quality_sized = FaceDetector(backend="onnx", min_face_size=min_face_size_for(40), models_dir=facenet_models_dir)
    for full, fast in zip(onnx_detector.detect_many(canvases), quality_sized.detect_many(canvases)):
        big = [d for d in full if min(d.width, d.height) >= 40]
        assert big, "the shrunk face should still be over 40 px"
        assert_same_faces(big, [d for d in fast if min(d.width, d.height) >= 40])


def test_onnx_batches_are_bounded_in_images_and_pixels() -> None:
    assert _chunks(list(range(20)), [(250, 250, 3)] * 20, 16) == [list(range(16)), list(range(16, 20))]
    frames = _chunks(list(range(10)), [(480, 640, 3)] * 10, 16)
    assert all(len(c) * 480 * 640 <= ONNX_BATCH_PIXELS for c in frames)
    assert [i for c in frames for i in c] == list(range(10))
    assert _chunks([3, 5], [(6000, 5000, 3), (250, 250, 3)], 16) == [[3], [5]]  # a huge photo goes alone
