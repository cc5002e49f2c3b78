"""MTCNN's three networks as ONNX: exported once from facenet-pytorch's shipped weights.

facenet-pytorch installs P-Net, R-Net and O-Net state_dicts in its ``data/`` folder
(nothing is downloaded). Each net is exported to ``<models_dir>/mtcnn-<net>.onnx`` with
a dynamic batch axis (and dynamic height/width for the fully convolutional P-Net),
cached with a ``.json`` sidecar holding the export's sha256 and that of its source
weights (recognition.pipeline.artifacts). Importing this module imports neither torch
nor onnxruntime.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from recognition.pipeline.artifacts import ensure_cached_export, required_models_dir, sha256_file
from recognition.pipeline.errors import WeightsUnavailable
from recognition.pipeline.onnx_models import ONNX_OPSET, OnnxModel, batch_axes, export_onnx_bytes

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


def export_mtcnn_bytes(net: str) -> bytes:
    """Export one MTCNN net (float32, CPU) to ONNX; the bytes depend only on weights and torch."""
    import torch  # heavy: only when an export is missing or stale
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet  # torch: heavy

    model = {"pnet": PNet, "rnet": RNet, "onet": ONet}[net](pretrained=True).eval().float()
    size = NET_INPUT_SIZE[net]
    outputs = NET_OUTPUTS[net]
    if net == "pnet":
        # P-Net's dummy is larger than its minimum so that tracing sees a non-trivial map.
        dummy = torch.zeros(2, 3, 4 * size, 4 * size)
        axes = {"input": {0: "batch", 2: "height", 3: "width"},
                **{name: {0: "batch", 2: "out_height", 3: "out_width"} for name in outputs}}
    else:
        dummy, axes = torch.zeros(2, 3, size, size), batch_axes(outputs)
    return export_onnx_bytes(model, dummy, outputs, axes)


def ensure_mtcnn_onnx(models_dir: Path | str, nets: tuple[str, ...] = NETS) -> dict[str, MtcnnOnnxFile]:
    """The cached exports of `nets`, exporting those missing or stale (under the models dir lock)."""
    models_dir = Path(models_dir)
    files: dict[str, MtcnnOnnxFile] = {}
    for net in nets:
        source = find_mtcnn_weights(net)
        source_sha = sha256_file(source)
        path = onnx_path(models_dir, net)
        sha = ensure_cached_export(path, models_dir, {"source_sha256": source_sha},
                                   lambda net=net, source=source: _export(net, source))
        files[net] = MtcnnOnnxFile(net, path, sha, source, source_sha)
    return files


def _export(net: str, source: Path) -> tuple[bytes, dict]:
    import torch  # heavy: only when an export is missing or stale

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


class MtcnnNetOnnx(OnnxModel):
    """One of MTCNN's nets on ONNX Runtime, exported first where needed."""

    def __init__(self, models_dir: Path | str | None, net: str, *, threads: int | None = None) -> None:
        super().__init__()
        self.models_dir, self.net, self.threads = models_dir, net, threads

    def model_file(self) -> Path:
        return ensure_mtcnn_onnx(required_models_dir(self.models_dir), (self.net,))[self.net].path


def load_mtcnn_models(models_dir: Path | str | None, threads: int | None = None) -> dict[str, MtcnnNetOnnx]:
    """pnet, rnet and onet, loaded (exported first if needed)."""
    return {net: MtcnnNetOnnx(models_dir, net, threads=threads).load() for net in NETS}


__all__ = ["NETS", "MtcnnNetOnnx", "MtcnnOnnxFile", "ensure_mtcnn_onnx", "export_mtcnn_bytes", "find_mtcnn_weights",
           "load_mtcnn_models", "onnx_path"]
