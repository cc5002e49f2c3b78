"""FaceNet's ONNX export, cached beside the weights it came from (recognition.pipeline.artifacts).

The sidecar ``<name>.onnx.json`` records the export's sha256 and the sha256 of the weights it
came from, so new weights (or a corrupted file) trigger a re-export.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recognition.pipeline.artifacts import ensure_cached_export
from recognition.pipeline.facenet.constants import CROP_SIZE, DEFAULT_SPEC, MODEL_NAME
from recognition.pipeline.facenet.loading import ModelInfo, describe_weights, load_facenet
from recognition.pipeline.onnx_models import ONNX_OPSET, export_onnx_bytes


@dataclass(frozen=True)
class OnnxFile:
    """A cached ONNX export and the weights it was exported from."""

    path: Path
    sha256: str
    weights: ModelInfo

    @property
    def weights_sha256(self) -> str:
        return self.weights.sha256


def _onnx_stem(spec: str, weights: ModelInfo) -> str:
    # The default weights get a stable, readable name; other weights are keyed by content.
    return MODEL_NAME if spec == DEFAULT_SPEC else f"facenet-{weights.sha256[:16]}"


def ensure_onnx_export(models_dir: Path | str, spec: str = DEFAULT_SPEC) -> OnnxFile:
    """Return the cached ONNX export of ``spec``'s network, exporting when missing or stale."""
    models_dir = Path(models_dir)
    weights = describe_weights(spec, models_dir)
    path = models_dir / f"{_onnx_stem(spec, weights)}.onnx"

    def export() -> tuple[bytes, dict]:
        import torch  # heavy: only when the export is missing or stale

        model, loaded = load_facenet(spec, models_dir, "cpu")
        if loaded.sha256 != weights.sha256:
            raise RuntimeError(f"weights for {spec!r} changed during export")
        dummy = torch.zeros(2, 3, CROP_SIZE, CROP_SIZE)
        return export_onnx_bytes(model.float(), dummy, ["embeddings"]), {
            "weights_name": weights.name,
            "weights_version": weights.version,
            "opset": ONNX_OPSET,
            "torch": torch.__version__,
            "input": "input: float32 (batch, 3, 160, 160), (x - 127.5) / 128",
            "output": "embeddings: float32 (batch, 512), L2-normalised",
        }

    sha = ensure_cached_export(path, models_dir, {"weights_sha256": weights.sha256}, export)
    return OnnxFile(path=path, sha256=sha, weights=weights)


__all__ = ["OnnxFile", "ensure_onnx_export"]
