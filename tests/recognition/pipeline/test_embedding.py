"""Batched FaceNet embeddings: torch and ONNX backends, TTA, batching, ONNX cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognition.pipeline.artifacts import sha256_file
from recognition.pipeline.facenet import embedder as embedding
from recognition.pipeline.facenet.constants import EMBEDDING_DIM, MODEL_VERSION, PT_FILENAME, SIDECAR_FILENAME
from recognition.pipeline.facenet.embedder import FaceEmbedder
from recognition.pipeline.facenet.export import ensure_onnx_export
from recognition.pipeline.facenet.preprocessing import standardise


def assert_unit_rows(emb: np.ndarray) -> None:
    assert emb.dtype == np.float32 and emb.ndim == 2 and emb.shape[1] == EMBEDDING_DIM
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)


def test_importing_the_pipeline_loads_neither_django_nor_torch():
    code = (
        "import sys, recognition.pipeline.facenet.embedder, recognition.pipeline.prepare_weights; "
        "from recognition.pipeline.facenet.embedder import FaceEmbedder; FaceEmbedder(device='cpu'); "
        "bad = [m for m in ('django', 'torch', 'onnxruntime') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])


def test_standardisation_is_the_fixed_facenet_scale():
    crops = np.zeros((1, 160, 160, 3), np.uint8)
    crops[0, 0, 0] = (0, 128, 255)
    x = standardise(crops)
    assert x.shape == (1, 3, 160, 160) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, 0, 0], np.array([-127.5, 0.5, 127.5], np.float32) / 128)
    assert x[0, 0, 1, 1] == np.float32(-127.5 / 128)  # not prewhitened per image


def test_embeddings_are_unit_float32_rows(onnx_embedder, face_crops):
    emb = onnx_embedder.embed(face_crops)
    assert emb.shape == (len(face_crops), EMBEDDING_DIM)
    assert_unit_rows(emb)
    # Same person (two Colin Powell photos) closer than different people.
    assert emb[1] @ emb[2] > emb[1] @ emb[3]


def test_torch_and_onnx_backends_agree_for_batches_of_one_and_several(
    torch_embedder, onnx_embedder, face_crops, facenet_models_dir
):
    single = FaceEmbedder(models_dir=facenet_models_dir, device="cpu", backend="onnx", batch_size=1)
    by_torch = torch_embedder.embed(face_crops)  # batches of 4 and 2
    by_onnx = onnx_embedder.embed(face_crops)
    by_onnx_single = single.embed(face_crops)
    diff = float(max(np.abs(by_torch - by_onnx).max(), np.abs(by_torch - by_onnx_single).max()))
    print(f"max |torch - onnx| = {diff:.3g}")
    assert diff < 1e-5


def test_batched_results_equal_per_item_results(torch_embedder, onnx_embedder, face_crops):
    crops = face_crops[:3]  # torch at batch 1 is slow on a busy 2-core machine
    for embedder in (torch_embedder, onnx_embedder):
        batched = embedder.embed(crops)
        one_by_one = np.concatenate([embedder.embed(crops[i : i + 1]) for i in range(len(crops))])
        np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_flip_tta_is_normalised_mean_of_crop_and_mirror(onnx_embedder, face_crops):
    plain = onnx_embedder.embed(face_crops)
    tta = onnx_embedder.embed(face_crops, tta=True)
    assert_unit_rows(tta)
    assert np.abs(tta - plain).max() > 1e-3

    mirrored = onnx_embedder.embed(np.ascontiguousarray(face_crops[:, :, ::-1]))
    expected = plain + mirrored
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(tta, expected, atol=1e-6)


def test_single_crop_list_and_empty_inputs(onnx_embedder, face_crops):
    one = onnx_embedder.embed(face_crops[0])
    as_list = onnx_embedder.embed([face_crops[0], face_crops[1]])
    assert one.shape == (1, EMBEDDING_DIM) and as_list.shape == (2, EMBEDDING_DIM)
    np.testing.assert_allclose(as_list[0], one[0], atol=1e-6)
    assert onnx_embedder.embed(np.zeros((0, 160, 160, 3), np.uint8)).shape == (0, EMBEDDING_DIM)
    assert onnx_embedder.embed([]).shape == (0, EMBEDDING_DIM)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 160, 160, 3), np.float32), np.zeros((2, 112, 112, 3), np.uint8), np.zeros((2, 160, 160), np.uint8)],
    ids=["float-crops", "wrong-size", "grey"],
)
def test_malformed_crops_are_rejected(onnx_embedder, bad):
    with pytest.raises(ValueError, match=r"uint8 RGB crops of shape \(N, 160, 160, 3\)"):
        onnx_embedder.embed(bad)


def test_cpu_auto_backend_is_onnx_and_model_info_names_the_weights(facenet_models_dir, casia_weights):
    import torch

    embedder = FaceEmbedder(models_dir=facenet_models_dir)
    if torch.cuda.is_available():
        assert (embedder.device, embedder.backend, embedder.half) == ("cuda", "torch", True)
    else:
        assert (embedder.device, embedder.backend, embedder.half) == ("cpu", "onnx", False)
    info = embedder.model_info
    assert (info.name, info.version, info.sha256) == ("facenet-casia-webface", MODEL_VERSION, casia_weights.sha256)


def test_both_backends_report_the_same_model_identity(torch_embedder, onnx_embedder):
    assert torch_embedder.model_info == onnx_embedder.model_info


def test_models_load_lazily_and_once(facenet_models_dir, casia_weights, face_crops):
    embedder = FaceEmbedder(models_dir=facenet_models_dir, device="cpu", backend="onnx")
    assert embedder._session is None and embedder._info is None
    embedder.embed(face_crops[:1])
    session = embedder._session
    embedder.embed(face_crops[:2])
    assert session is not None and embedder._session is session


def test_auto_picks_torch_in_half_precision_when_cuda_is_there(monkeypatch, facenet_models_dir):
    monkeypatch.setattr(embedding, "cuda_available", lambda: True)  # what torch would answer
    auto = FaceEmbedder(models_dir=facenet_models_dir)
    assert (auto.device, auto.backend, auto.half) == ("cuda", "torch", True)
    with pytest.raises(ValueError, match="CPU only"):
        FaceEmbedder(models_dir=facenet_models_dir, device="cuda", backend="onnx").backend


def test_cuda_requested_without_a_gpu_is_an_error(monkeypatch, facenet_models_dir):
    monkeypatch.setattr(embedding, "cuda_available", lambda: False)  # what torch would answer
    with pytest.raises(RuntimeError, match="no CUDA device"):
        FaceEmbedder(models_dir=facenet_models_dir, device="cuda").device


@pytest.fixture
def scratch_models_dir(tmp_path, casia_weights, onnx_embedder):
    """A private copy of weights + ONNX cache, safe to tamper with."""
    onnx_embedder.model_info  # make sure the shared ONNX export exists
    src = casia_weights.path.parent
    for name in (PT_FILENAME, SIDECAR_FILENAME, "facenet-casia-webface.onnx", "facenet-casia-webface.onnx.json"):
        shutil.copy2(src / name, tmp_path / name)
    return tmp_path


def test_onnx_export_is_cached_and_reused(scratch_models_dir):
    onnx_path = scratch_models_dir / "facenet-casia-webface.onnx"
    before = onnx_path.stat().st_mtime_ns
    cached = ensure_onnx_export(scratch_models_dir)
    assert cached.path == onnx_path and onnx_path.stat().st_mtime_ns == before
    assert cached.sha256 == sha256_file(onnx_path)


def test_onnx_export_is_redone_when_the_weights_changed(scratch_models_dir, casia_weights):
    sidecar = scratch_models_dir / "facenet-casia-webface.onnx.json"
    meta = json.loads(sidecar.read_text())
    meta["weights_sha256"] = "0" * 64  # exported from other weights than the current .pt
    sidecar.write_text(json.dumps(meta))

    redone = ensure_onnx_export(scratch_models_dir)
    assert json.loads(sidecar.read_text())["weights_sha256"] == casia_weights.sha256
    assert redone.sha256 == sha256_file(redone.path)
