"""Passive liveness (presentation-attack detection) of detected faces with two MiniFASNets.

- ``specs``: the two shipped networks, their files and digests, the default threshold;
- ``network``: the networks in PyTorch (imports torch: only for the torch backend and exports);
- ``install``: installing and verifying the weights, their ONNX exports;
- ``checker``: LivenessChecker, faces in, scores and verdicts out.

Importing the package imports neither torch nor onnxruntime.
"""

from recognition.pipeline.liveness.checker import LivenessChecker, LivenessResult, liveness_crop, scaled_box
from recognition.pipeline.liveness.install import (
    LivenessOnnx,
    ensure_liveness_onnx,
    load_minifasnet,
    prepare_liveness_weights,
    weights_dir,
)
from recognition.pipeline.liveness.specs import (
    DEFAULT_THRESHOLD,
    MINIFASNET_V1SE,
    MINIFASNET_V2,
    MODEL_VERSION,
    SPECS,
    LivenessSourceMissing,
    LivenessWeightsUnavailable,
    MiniFASNetSpec,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "MINIFASNET_V1SE",
    "MINIFASNET_V2",
    "MODEL_VERSION",
    "SPECS",
    "LivenessChecker",
    "LivenessOnnx",
    "LivenessResult",
    "LivenessSourceMissing",
    "LivenessWeightsUnavailable",
    "MiniFASNetSpec",
    "ensure_liveness_onnx",
    "liveness_crop",
    "load_minifasnet",
    "prepare_liveness_weights",
    "scaled_box",
    "weights_dir",
]
