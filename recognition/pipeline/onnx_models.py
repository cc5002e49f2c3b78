"""ONNX on CPU, for every network of the pipeline: the one ONNX Runtime session factory, the base
class each ONNX model subclasses, and the torch -> ONNX export that makes their files.

Like immich's machine-learning models: the base class owns loading (once, lazily, thread-safe)
and the session's set-up; a subclass only says where its file comes from (`model_file`, which
exports or verifies it first) and, where it differs, how many threads its session uses.
Importing this module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime
    import torch

ONNX_OPSET = 17


def create_session(path: Path, *, threads: int | None = None, spinning: bool = True
                   ) -> onnxruntime.InferenceSession:
    """A CPU ONNX Runtime session on the model at `path`: all graph optimisations, `threads`
    intra-op threads (default one per core); `spinning=False` lets idle threads sleep."""
    import onnxruntime as ort  # heavy: imported when a model loads, not with the pipeline

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxModel:
    """One network on ONNX Runtime, its session made on first use, once; safe from several threads.

    Inputs are fed as ``input``; `run` returns the named outputs (all of them by default).
    """

    threads: int | None = None  # intra-op threads; None: one per core
    spinning: bool = True

    def __init__(self) -> None:
        self._session: onnxruntime.InferenceSession | None = None
        self._lock = threading.Lock()

    def model_file(self) -> Path:
        """The .onnx file, exported or verified first where needed (raises WeightsUnavailable)."""
        raise NotImplementedError

    @property
    def session(self) -> onnxruntime.InferenceSession:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = create_session(self.model_file(), threads=self.threads,
                                                   spinning=self.spinning)
        return self._session

    def load(self) -> OnnxModel:
        """Make the session now (a worker warming up; errors surface here rather than mid-request)."""
        self.session  # noqa: B018 - the property loads
        return self

    def run(self, x: np.ndarray, outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        return self.session.run(None if outputs is None else list(outputs), {"input": x})


def batch_axes(output_names: Sequence[str]) -> dict[str, dict[int, str]]:
    """Dynamic axes of a network whose only dynamic axis is the batch."""
    return {"input": {0: "batch"}, **{name: {0: "batch"} for name in output_names}}


def export_onnx_bytes(model: torch.nn.Module, dummy: torch.Tensor, output_names: Sequence[str],
                      dynamic_axes: Mapping[str, Mapping[int, str]] | None = None) -> bytes:
    """Export `model` (eval, CPU, float32) to ONNX at ONNX_OPSET: `input` -> `output_names`, with
    `dynamic_axes` (default: the batch axis only). The bytes depend only on the weights, the
    arguments and torch: exported to memory, no temporary file name ends up in them."""
    import torch  # heavy: only when an export is missing or stale

    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript and handles these plain
        # conv nets fine; dynamo=True would add a dependency for nothing.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy,),
            buf,
            input_names=["input"],
            output_names=list(output_names),
            dynamic_axes={name: dict(axes) for name, axes in (dynamic_axes or batch_axes(output_names)).items()},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buf.getvalue()


__all__ = ["ONNX_OPSET", "OnnxModel", "batch_axes", "create_session", "export_onnx_bytes"]
