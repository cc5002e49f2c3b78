"""Liveness (MiniFASNet anti-spoofing): weights install and verification, our networks against
the reference's published sample scores, and the torch and ONNX backends."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognition.pipeline.detection import FaceDetector
from recognition.pipeline.images import load_image_file
from recognition.pipeline.artifacts import sha256_file
from recognition.pipeline.liveness import (
    DEFAULT_THRESHOLD,
    MINIFASNET_V1SE,
    MINIFASNET_V2,
    MODEL_VERSION,
    SPECS,
    LivenessChecker,
    LivenessWeightsUnavailable,
    prepare_liveness_weights,
    scaled_box,
)
from recognition.pipeline.liveness.network import build_minifasnet, load_state_dict_strict
from tests.shared_data import ANTISPOOF_SOURCE

SAMPLES = ANTISPOOF_SOURCE / "samples"
# The reference's printout (SOURCE.txt, RetinaFace boxes): argmax class and its score, sum / 2.
# Tolerances measured with our MTCNN boxes: T1 real 0.99994 (|d| 0.010); F1 attack class 2 0.728
# (|d| 0.002; a +-2 px box jitter moves it 0.63-0.76); F2 attack class 2 0.995 (|d| 0.175: its
# 2.7x and 4x crops are the whole frame with an MTCNN box, the reference's were smaller).
REFERENCE = {
    "image_T1.jpg": (1, 0.99, 0.02),
    "image_F1.jpg": (2, 0.73, 0.05),
    "image_F2.jpg": (2, 0.82, 0.2),
}


@pytest.fixture(scope="module")
def liveness_models_dir(facenet_models_dir) -> Path:
    prepare_liveness_weights(facenet_models_dir, ANTISPOOF_SOURCE)  # what `make weights` does; a no-op once installed
    return facenet_models_dir


@pytest.fixture(scope="module")
def samples(facenet_models_dir) -> dict[str, tuple[np.ndarray, tuple[float, float, float, float]]]:
    """Each sample photo (RGB) with the box of its most probable MTCNN face."""
    detector = FaceDetector(device="cpu", models_dir=facenet_models_dir)
    out = {}
    for name in REFERENCE:
        image = load_image_file(SAMPLES / name)
        faces = detector.detect(image)
        assert faces, name
        out[name] = (image, faces[0].box)
    return out


@pytest.fixture(scope="module")
def onnx_checker(liveness_models_dir) -> LivenessChecker:
    return LivenessChecker(liveness_models_dir)


@pytest.fixture(scope="module")
def torch_checker(liveness_models_dir) -> LivenessChecker:
    return LivenessChecker(liveness_models_dir, backend="torch")


def all_faces(samples):
    images = [image for image, _ in samples.values()]
    return images, [[box] for _, box in samples.values()]


def test_importing_liveness_loads_neither_django_nor_torch():
    code = (
        "import sys; from recognition.pipeline.liveness import LivenessChecker; LivenessChecker(); "
        "bad = [m for m in ('django', 'torch', 'onnxruntime') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_shipped_state_dicts_load_strictly_into_our_networks(spec):
    model = build_minifasnet(spec)
    load_state_dict_strict(model, ANTISPOOF_SOURCE / spec.filename)  # raises on any key or shape
    assert 0.43e6 < sum(p.numel() for p in model.parameters()) < 0.44e6  # the paper's ~0.43 M


def test_each_state_dict_fits_only_its_own_architecture():
    v2_weights = ANTISPOOF_SOURCE / MINIFASNET_V2.filename
    with pytest.raises(RuntimeError):
        load_state_dict_strict(build_minifasnet(MINIFASNET_V1SE), v2_weights)


@pytest.mark.parametrize("name", REFERENCE)
def test_sample_photos_score_near_the_reference_figures(onnx_checker, samples, name):
    image, box = samples[name]
    mean = onnx_checker.probabilities([image], [[box]])[0].mean(axis=0)
    label, reference, tolerance = REFERENCE[name]
    print(f"{name}: mean softmax {np.round(mean, 4)}")
    assert int(mean.argmax()) == label
    assert abs(mean[label] - reference) <= tolerance


def test_live_sample_is_live_and_attacks_are_not(onnx_checker, samples):
    images, faces = all_faces(samples)
    results = [r for per_image in onnx_checker.check_many(images, faces) for r in per_image]
    assert [r.is_live for r in results] == [True, False, False]  # T1, F1, F2
    assert results[0].score > 0.99 and all(r.score < 0.3 for r in results[1:])
    assert all(r.model_version == MODEL_VERSION for r in results)
    assert onnx_checker.threshold == DEFAULT_THRESHOLD


def test_threshold_decides_is_live(liveness_models_dir, samples):
    image, box = samples["image_F1.jpg"]  # real score ~0.17
    lenient = LivenessChecker(liveness_models_dir, threshold=0.1)
    assert lenient.check(image, [box])[0].is_live


def test_torch_and_onnx_backends_agree_in_batches_and_one_by_one(onnx_checker, torch_checker, samples,
                                                                 liveness_models_dir):
    images, faces = all_faces(samples)
    by_torch = torch_checker.probabilities(images, faces)
    by_onnx = onnx_checker.probabilities(images, faces)
    one_by_one = LivenessChecker(liveness_models_dir, batch_size=1).probabilities(images, faces)
    diff = float(max(np.abs(by_torch - by_onnx).max(), np.abs(by_torch - one_by_one).max()))
    print(f"max |torch - onnx| = {diff:.3g}")
    assert diff < 1e-4


def test_several_faces_of_one_image_are_scored_in_order(onnx_checker, samples):
    image, box = samples["image_T1.jpg"]
    x1, y1, x2, y2 = box
    shifted = (x1 + 3, y1 - 2, x2 + 3, y2 - 2)
    together = onnx_checker.check(image, [box, shifted])
    alone = [onnx_checker.check(image, [b])[0] for b in (box, shifted)]
    assert [r.score for r in together] == pytest.approx([r.score for r in alone], abs=1e-6)
    assert onnx_checker.check(image, []) == []


def test_crop_box_scales_about_the_centre_and_shifts_back_inside_the_frame():
    # 100x100 box centred at (200, 150) in a 480x640 (h x w) frame: 2.7x is 270 px wide.
    assert scaled_box((150, 100, 250, 200), (480, 640, 3), 2.7) == (65, 15, 335, 285)
    # Near the left/top edge the enlarged box keeps its size and moves inside.
    assert scaled_box((0, 0, 100, 100), (480, 640, 3), 2.7) == (0, 0, 270, 270)
    # Larger than the frame allows: scaled only as far as (h - 1) / box_h.
    assert scaled_box((270, 190, 370, 290), (480, 640, 3), 10.0) == (80, 0, 559, 479)


# ---------------------------------------------------------------- weight installation


def test_prepare_installs_weights_licence_and_onnx_exports(tmp_path):
    installed = prepare_liveness_weights(tmp_path, ANTISPOOF_SOURCE)
    names = {p.name for p in installed.iterdir()}
    assert {s.filename for s in SPECS} | {"LICENSE", "SOURCE.txt"} <= names
    assert {s.onnx_filename for s in SPECS} | {f"{s.onnx_filename}.json" for s in SPECS} <= names
    assert all(sha256_file(installed / s.filename) == s.sha256 for s in SPECS)


def test_prepare_skips_files_already_installed(tmp_path):
    prepare_liveness_weights(tmp_path, ANTISPOOF_SOURCE, export_onnx=False)
    # Nothing left to copy, so the source is not needed.
    prepare_liveness_weights(tmp_path, tmp_path / "no-such-source", export_onnx=False)


def test_a_corrupted_source_copy_is_refused(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ANTISPOOF_SOURCE, source, ignore=shutil.ignore_patterns("samples"))
    (source / MINIFASNET_V2.filename).chmod(0o644)
    with open(source / MINIFASNET_V2.filename, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(LivenessWeightsUnavailable, match="sha256"):
        prepare_liveness_weights(tmp_path / "models", source, export_onnx=False)
    assert not (tmp_path / "models" / "antispoof" / MINIFASNET_V2.filename).exists()


def test_a_corrupted_install_is_refused_at_load_and_repaired_by_prepare(tmp_path, samples):
    installed = prepare_liveness_weights(tmp_path, ANTISPOOF_SOURCE, export_onnx=False)
    (installed / MINIFASNET_V1SE.filename).write_bytes(b"not the weights")
    image, box = samples["image_T1.jpg"]
    with pytest.raises(LivenessWeightsUnavailable, match="make weights"):
        LivenessChecker(tmp_path, backend="torch").check(image, [box])
    prepare_liveness_weights(tmp_path, ANTISPOOF_SOURCE, export_onnx=False)
    assert sha256_file(installed / MINIFASNET_V1SE.filename) == MINIFASNET_V1SE.sha256


def test_missing_weights_name_make_weights_and_nothing_is_fetched(tmp_path, samples):
    image, box = samples["image_T1.jpg"]
    for backend in ("onnx", "torch"):
        with pytest.raises(LivenessWeightsUnavailable, match="make weights"):
            LivenessChecker(tmp_path, backend=backend).check(image, [box])
    assert not any(tmp_path.iterdir())
