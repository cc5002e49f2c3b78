"""The liveness weights on this machine: installed from a source folder (SHA-256 checked, with
their licence), verified before use, loaded into torch, and exported to ONNX (cached, as every
export: recognition.pipeline.artifacts)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recognition.pipeline.artifacts import (
    ensure_cached_export,
    models_dir_lock,
    required_models_dir,
    sha256_file,
    write_artifact,
)
from recognition.pipeline.liveness.specs import (
    INPUT_SIZE,
    MODEL_VERSION,
    PROVENANCE_FILES,
    SPECS,
    WEIGHTS_SUBDIR,
    LivenessSourceMissing,
    LivenessWeightsUnavailable,
    MiniFASNetSpec,
)
from recognition.pipeline.onnx_models import ONNX_OPSET, OnnxModel, export_onnx_bytes

if TYPE_CHECKING:
    import torch


def weights_dir(models_dir: Path | str | None) -> Path:
    return required_models_dir(models_dir) / WEIGHTS_SUBDIR


@dataclass(frozen=True)
class LivenessOnnx:
    """A cached ONNX export of one network and the weights digest it came from."""

    path: Path
    sha256: str
    weights_sha256: str


def verified_weights(directory: Path, spec: MiniFASNetSpec) -> Path:
    """The installed .pth of `spec` in `directory`, once its sha256 is the one we ship."""
    path = directory / spec.filename
    if not path.is_file():
        raise LivenessWeightsUnavailable(
            f"liveness weights {path} are missing; run `make weights` to install them"
        )
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise LivenessWeightsUnavailable(
            f"liveness weights {path} have sha256 {digest}, expected {spec.sha256}; "
            "run `make weights` to reinstall them"
        )
    return path


def _copy_verified(source: Path | None, dest: Path, expected_sha256: str | None) -> None:
    """Copy ``source`` to ``dest`` unless ``dest`` already matches; check the bytes actually copied.

    Without ``expected_sha256`` (LICENSE, SOURCE.txt) an installed copy is kept when the source is gone.
    """
    if expected_sha256 is not None and dest.is_file() and sha256_file(dest) == expected_sha256:
        return
    if source is None or not source.is_file():
        if expected_sha256 is None and dest.is_file():
            return
        where = source if source is not None else f"{dest.name} (no source folder given)"
        raise LivenessSourceMissing(f"{where} not found: cannot install the liveness weights")
    data = source.read_bytes()
    if expected_sha256 is None:
        if dest.is_file() and dest.read_bytes() == data:
            return
    else:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise LivenessWeightsUnavailable(
                f"refusing {source}: sha256 {digest} is not the expected {expected_sha256}"
            )
    write_artifact(dest, data)


def prepare_liveness_weights(
    models_dir: Path | str, source_dir: Path | str | None = None, *, export_onnx: bool = True
) -> Path:
    """Install both .pth files (SHA-256 checked), LICENSE and SOURCE.txt under ``models_dir/antispoof``.

    Files already there with the right content are left alone, so the source folder (the
    caller's: ``make weights`` passes ../shared/models/antispoof) is only needed for what is
    missing. Raises LivenessSourceMissing for a file neither installed nor in the source, and
    LivenessWeightsUnavailable on a digest mismatch. Returns the installed directory.
    """
    source = Path(source_dir) if source_dir is not None else None
    directory = weights_dir(models_dir)
    with models_dir_lock(directory.parent):
        for spec in SPECS:
            _copy_verified(source / spec.filename if source else None, directory / spec.filename, spec.sha256)
        for name in PROVENANCE_FILES:
            _copy_verified(source / name if source else None, directory / name, None)
    if export_onnx:
        ensure_liveness_onnx(directory.parent)
    return directory


def load_minifasnet(spec: MiniFASNetSpec, models_dir: Path | str | None) -> torch.nn.Module:
    """One installed network in eval mode on CPU; never fetches anything."""
    from recognition.pipeline.liveness.network import build_minifasnet, load_state_dict_strict  # torch: heavy

    path = verified_weights(weights_dir(models_dir), spec)
    model = build_minifasnet(spec)
    load_state_dict_strict(model, path)
    return model.eval()


def ensure_liveness_onnx(models_dir: Path | str, specs: tuple[MiniFASNetSpec, ...] = SPECS
                         ) -> tuple[LivenessOnnx, ...]:
    """The ONNX exports of `specs` (both networks: V2, V1SE), exported when missing or stale.

    Each ``<name>.onnx.json`` sidecar records the export's sha256 and that of the
    weights it came from. The weights must already be installed (``make weights``).
    """
    directory = weights_dir(models_dir)
    out = []
    for spec in specs:
        path = directory / spec.onnx_filename
        sha = ensure_cached_export(path, directory.parent, {"weights_sha256": spec.sha256},
                                   lambda path=path, spec=spec: _export_onnx(path, spec))
        out.append(LivenessOnnx(path=path, sha256=sha, weights_sha256=spec.sha256))
    return tuple(out)


def _export_onnx(path: Path, spec: MiniFASNetSpec) -> tuple[bytes, dict]:
    import torch  # heavy: only when an export is missing or stale

    model = load_minifasnet(spec, path.parent.parent)
    dummy = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    return export_onnx_bytes(model, dummy, ["logits"]), {
        "weights": spec.filename,
        "model_version": MODEL_VERSION,
        "opset": ONNX_OPSET,
        "torch": torch.__version__,
        "input": f"input: float32 (batch, 3, {INPUT_SIZE}, {INPUT_SIZE}), BGR 0-255",
        "output": "logits: float32 (batch, 3), class 1 = real",
    }


class MiniFASNetOnnx(OnnxModel):
    """One MiniFASNet on ONNX Runtime, exported on demand from the installed, verified weights."""

    # Spinning workers waiting for these tiny ops measured 2-3x slower on a shared 2-core CPU.
    spinning = False

    def __init__(self, models_dir: Path | str | None, spec: MiniFASNetSpec) -> None:
        super().__init__()
        self.models_dir, self.spec = models_dir, spec

    def model_file(self) -> Path:
        verified_weights(weights_dir(self.models_dir), self.spec)  # no download: installed or nothing
        return ensure_liveness_onnx(self.models_dir, (self.spec,))[0].path


__all__ = ["LivenessOnnx", "MiniFASNetOnnx", "ensure_liveness_onnx", "load_minifasnet", "prepare_liveness_weights",
           "verified_weights", "weights_dir"]
