"""The int8 embedder backend: agreement with fp32 on real faces, its cache, backend names.

The int8 model is the one ``make weights`` caches in the models dir (quantising it here
instead costs MTCNN on 200 photos); cache tests work on a scratch copy and
replace the quantiser with a stub, so no test re-quantises.
"""

from __future__ import annotations

import json
import shutil
from itertools import combinations

import numpy as np
import pytest

from recognition.pipeline.artifacts import sha256_file
from recognition.pipeline.facenet import embedder as embedding
from recognition.pipeline.facenet import int8
from recognition.pipeline.facenet.constants import EMBEDDING_DIM, PT_FILENAME, SIDECAR_FILENAME
from recognition.pipeline.facenet.embedder import BACKENDS, FaceEmbedder
from recognition.pipeline.facenet.export import ensure_onnx_export
from recognition.pipeline.facenet.int8 import (
    CALIBRATION_IMAGES,
    CalibrationDataMissing,
    calibration_images,
    ensure_int8_export,
)
from recognition.pipeline.lfw import read_pairs, unique_images
from tests.shared_data import LFW_DIR

FP32_ONNX = "facenet-casia-webface.onnx"
INT8_ONNX = "facenet-casia-webface.int8.onnx"
SAME_PERSON = (1, 2)  # the two Colin Powell photos in conftest's LFW_SAMPLES


@pytest.fixture(scope="session")
def int8_file(facenet_models_dir, casia_weights):
    return ensure_int8_export(facenet_models_dir, lfw_dir=LFW_DIR)


@pytest.fixture(scope="session")
def int8_embedder(facenet_models_dir, int8_file):
    return FaceEmbedder(models_dir=facenet_models_dir, device="cpu", backend="onnx-int8", batch_size=4,
                        calibration_dir=LFW_DIR)


def test_int8_embeddings_are_unit_512d_rows(int8_embedder, face_crops):
    emb = int8_embedder.embed(face_crops)
    assert emb.dtype == np.float32 and emb.shape == (len(face_crops), EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    assert int8_embedder.backend == "onnx-int8"


def test_int8_agrees_with_fp32_on_real_faces(int8_embedder, onnx_embedder, face_crops):
    cos = np.einsum("ij,ij->i", int8_embedder.embed(face_crops), onnx_embedder.embed(face_crops))
    print(f"cosine int8 vs fp32: min {cos.min():.4f}")
    assert cos.min() >= 0.99


def test_int8_keeps_the_same_person_closer_than_different_people(int8_embedder, face_crops):
    emb = int8_embedder.embed(face_crops)
    same = float(emb[SAME_PERSON[0]] @ emb[SAME_PERSON[1]])
    different = [float(emb[i] @ emb[j]) for i, j in combinations(range(len(emb)), 2) if (i, j) != SAME_PERSON]
    assert same > max(different)


def test_int8_embeds_with_the_same_weights(int8_embedder, onnx_embedder, int8_file):
    assert int8_embedder.model_info == onnx_embedder.model_info
    meta = json.loads(int8_file.path.with_name(f"{int8_file.path.name}.json").read_text())
    assert meta["fp32_onnx_sha256"] == int8_file.fp32.sha256 == sha256_file(int8_file.fp32.path)
    assert meta["sha256"] == int8_file.sha256 and meta["recipe"] == int8.RECIPE


def test_unknown_backend_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"unknown embedding backend 'int8'.*'onnx-int8'"):
        FaceEmbedder(backend="int8")
    assert set(BACKENDS) == {"auto", "torch", "onnx", "onnx-int8"}


def test_int8_backend_runs_on_cpu_only(monkeypatch, facenet_models_dir):
    monkeypatch.setattr(embedding, "cuda_available", lambda: True)  # what torch would answer
    with pytest.raises(ValueError, match="CPU only"):
        FaceEmbedder(models_dir=facenet_models_dir, device="cuda", backend="onnx-int8").backend


def test_calibration_set_is_fixed_view1_train_images_outside_view2():
    images = calibration_images(LFW_DIR)
    assert images == calibration_images(LFW_DIR) and len(images) == CALIBRATION_IMAGES
    assert images == sorted(images) and len(set(images)) == len(images)
    train = set(unique_images(read_pairs(LFW_DIR / "pairsDevTrain.txt", LFW_DIR)))
    view2 = set(unique_images(read_pairs(LFW_DIR / "pairs.txt", LFW_DIR)))
    assert set(images) <= train and not set(images) & view2


@pytest.fixture
def scratch_models_dir(tmp_path, casia_weights, int8_file):
    """A private copy of the weights, the fp32 export and the int8 model, safe to tamper with."""
    src = casia_weights.path.parent
    for name in (PT_FILENAME, SIDECAR_FILENAME, FP32_ONNX, f"{FP32_ONNX}.json", INT8_ONNX, f"{INT8_ONNX}.json"):
        shutil.copy2(src / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def quantiser_calls(monkeypatch, face_crops):
    """Replace calibration (MTCNN) and quantisation with stubs that record what they were given."""
    calls: list[str] = []

    def fake_quantize(fp32_path, crops):
        calls.append(sha256_file(fp32_path))
        return b"int8 model of " + calls[-1].encode()

    monkeypatch.setattr(int8, "calibration_crops", lambda paths, models_dir=None: face_crops)
    monkeypatch.setattr(int8, "quantize_bytes", fake_quantize)
    return calls


def test_int8_cache_is_reused(scratch_models_dir, quantiser_calls):
    path = scratch_models_dir / INT8_ONNX
    before = path.stat().st_mtime_ns
    cached = ensure_int8_export(scratch_models_dir, lfw_dir=LFW_DIR)
    assert cached.path == path and path.stat().st_mtime_ns == before and quantiser_calls == []
    assert cached.sha256 == sha256_file(path)


def test_a_changed_fp32_export_invalidates_the_int8_cache(scratch_models_dir, quantiser_calls):
    import onnx

    # A new fp32 export (valid, with its own sha256 in its sidecar), as after new weights.
    fp32_path = scratch_models_dir / FP32_ONNX
    model = onnx.load(str(fp32_path))
    model.doc_string = "re-exported"
    onnx.save(model, str(fp32_path))
    sidecar = scratch_models_dir / f"{FP32_ONNX}.json"
    meta = json.loads(sidecar.read_text())
    meta["sha256"] = sha256_file(fp32_path)
    sidecar.write_text(json.dumps(meta))
    assert ensure_onnx_export(scratch_models_dir).sha256 == meta["sha256"]

    redone = ensure_int8_export(scratch_models_dir, lfw_dir=LFW_DIR)
    assert quantiser_calls == [meta["sha256"]]
    int8_meta = json.loads((scratch_models_dir / f"{INT8_ONNX}.json").read_text())
    assert int8_meta["fp32_onnx_sha256"] == meta["sha256"] == redone.fp32.sha256
    assert int8_meta["sha256"] == redone.sha256 == sha256_file(redone.path)
    ensure_int8_export(scratch_models_dir, lfw_dir=LFW_DIR)
    assert len(quantiser_calls) == 1  # and the new one is reused


def test_missing_calibration_data_is_a_clear_error(scratch_models_dir, tmp_path_factory):
    (scratch_models_dir / INT8_ONNX).unlink()
    embedder = FaceEmbedder(models_dir=scratch_models_dir, device="cpu", backend="onnx-int8",
                            calibration_dir=tmp_path_factory.mktemp("no-lfw"))
    with pytest.raises(CalibrationDataMissing, match="pairsDevTrain.txt"):
        embedder.embed(np.zeros((1, 160, 160, 3), np.uint8))


def test_auto_falls_back_to_fp32_where_int8_cannot_be_had(monkeypatch, scratch_models_dir, tmp_path_factory,
                                                          onnx_embedder, face_crops):
    monkeypatch.setattr(embedding, "CPU_AUTO_BACKEND", "onnx-int8")
    (scratch_models_dir / INT8_ONNX).unlink()  # not cached, and no LFW to calibrate on
    auto = FaceEmbedder(models_dir=scratch_models_dir, device="cpu", calibration_dir=tmp_path_factory.mktemp("no-lfw"))
    assert auto.backend == "onnx-int8"
    np.testing.assert_allclose(auto.embed(face_crops[:2]), onnx_embedder.embed(face_crops[:2]), atol=1e-6)
    assert auto.backend == "onnx"
