"""MTCNN's three networks as ONNX: exported once from facenet-pytorch's shipped weights.

facenet-pytorch installs P-Net, R-Net and O-Net state_dicts in its ``data/`` folder
(nothing is downloaded). Each net is exported to ``<models_dir>/mtcnn-<net>.onnx`` with
a dynamic batch axis (and dynamic height/width for the fully convolutional P-Net),
cached with a ``.json`` sidecar holding the export's sha256 and that of its source
weights, like the FaceNet export in recognition.pipeline.embedding. Importing this
module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import importlib.util
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recognition.pipeline.weights import (
    WeightsUnavailable,
    default_models_dir,
    ensure_cached_export,
    sha256_file,
)

if TYPE_CHECKING:
    import onnxruntime

ONNX_OPSET = 17
NETS = ("pnet", "rnet", "onet")
# Input side of R-Net and O-Net; P-Net takes any size of at least 12.
NET_INPUT_SIZE = {"pnet": 12, "rnet": 24, "onet": 48}
NET_OUTPUTS = {"pnet": ("reg", "prob"), "rnet": ("reg", "prob"), "onet": ("reg", "landmarks", "prob")}


@dataclass(frozen=True)
class MtcnnOnnxFile:
    """One cached export and the facenet-pytorch weights it came from."""

    net: str
    path: Path
    sha256: str
    source_path: Path
    source_sha256: str


def onnx_path(models_dir: Path, net: str) -> Path:
    return Path(models_dir) / f"mtcnn-{net}.onnx"


def find_mtcnn_weights(net: str) -> Path:
    """facenet-pytorch's ``data/<net>.pt``, located without importing the package (torch)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    for loc in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(loc) / "data" / f"{net}.pt"
        if candidate.is_file():
            return candidate
    raise WeightsUnavailable(f"facenet-pytorch's MTCNN weights data/{net}.pt were not found; "
                             "install the 'facenet-pytorch' package")


def _build_net(net: str):
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    model = {"pnet": PNet, "rnet": RNet, "onet": ONet}[net](pretrained=True)
    return model.eval().float()


def export_mtcnn_bytes(net: str) -> bytes:
    """Export one MTCNN net (float32, CPU) to ONNX; the bytes depend only on weights and torch."""
    import torch

    model = _build_net(net)
    size = NET_INPUT_SIZE[net]
    # P-Net's dummy is larger than its minimum so that tracing sees a non-trivial map.
    dummy = torch.zeros(2, 3, 4 * size, 4 * size) if net == "pnet" else torch.zeros(2, 3, size, size)
    outputs = NET_OUTPUTS[net]
    axes = {"input": {0: "batch"}, **{name: {0: "batch"} for name in outputs}}
    if net == "pnet":
        axes = {"input": {0: "batch", 2: "height", 3: "width"},
                **{name: {0: "batch", 2: "out_height", 3: "out_width"} for name in outputs}}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # As for FaceNet: the TorchScript exporter needs no onnxscript and suits these small nets.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), buf, input_names=["input"], output_names=list(outputs),
                          dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)
    return buf.getvalue()


def ensure_mtcnn_onnx(models_dir: Path | str | None = None) -> dict[str, MtcnnOnnxFile]:
    """The three cached exports, exporting those missing or stale (under the models dir lock)."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    files: dict[str, MtcnnOnnxFile] = {}
    for net in NETS:
        source = find_mtcnn_weights(net)
        source_sha = sha256_file(source)
        path = onnx_path(models_dir, net)
        sha = ensure_cached_export(path, models_dir, {"source_sha256": source_sha},
                                   lambda net=net, source=source: _export(net, source))
        files[net] = MtcnnOnnxFile(net, path, sha, source, source_sha)
    return files


def _export(net: str, source: Path) -> tuple[bytes, dict]:
    import torch

    size = "(batch, 3, height, width), height and width >= 12" if net == "pnet" else \
        f"(batch, 3, {NET_INPUT_SIZE[net]}, {NET_INPUT_SIZE[net]})"
    return export_mtcnn_bytes(net), {
        "net": net,
        "source": f"facenet_pytorch/data/{source.name}",
        "opset": ONNX_OPSET,
        "torch": torch.__version__,
        "input": f"input: float32 {size}, RGB, (x - 127.5) * 0.0078125",
        "outputs": ", ".join(NET_OUTPUTS[net]),
    }


def load_mtcnn_sessions(models_dir: Path | str | None = None, threads: int | None = None
                        ) -> dict[str, onnxruntime.InferenceSession]:
    """CPU ONNX Runtime sessions for pnet, rnet and onet (exported first if needed)."""
    import onnxruntime as ort

    files = ensure_mtcnn_onnx(models_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return {net: ort.InferenceSession(str(f.path), options, providers=["CPUExecutionProvider"])
            for net, f in files.items()}


__all__ = ["NETS", "MtcnnOnnxFile", "ensure_mtcnn_onnx", "export_mtcnn_bytes", "find_mtcnn_weights",
           "load_mtcnn_sessions", "onnx_path"]
