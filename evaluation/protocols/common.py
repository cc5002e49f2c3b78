"""What every protocol shares: labelled embeddings in, a JSON-ready result out (no Django)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from recognition.pipeline.open_set import Scorer

FAR_TARGETS = (1e-1, 1e-2, 1e-3, 1e-4)
FPIR_TARGETS = (1e-1, 1e-2, 1e-3)
TOP_K = (1, 5)

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    pass


def no_scorer() -> Scorer:
    return Scorer(None)


@dataclass
class LabelledEmbeddings:
    """Rows of unit-length embeddings, the identity label of each, and what each row is."""

    embeddings: np.ndarray  # (n, d) float32, unit length
    labels: np.ndarray  # (n,) str
    items: list[str]  # per row: photo id or file path, for the logs
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> {key: value}

    def __post_init__(self):
        self.labels = np.asarray(self.labels).astype(str)
        if len(self.embeddings) != len(self.labels) or len(self.labels) != len(self.items):
            raise ValueError("embeddings, labels and items differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> LabelledEmbeddings:
        idx = np.flatnonzero(mask)
        return LabelledEmbeddings(self.embeddings[idx], self.labels[idx], [self.items[i] for i in idx],
                                  self.attributes)

    def counts(self) -> dict[str, int]:
        names, counts = np.unique(self.labels, return_counts=True)
        return dict(zip(names.tolist(), counts.tolist()))


@dataclass
class ProtocolResult:
    """`metrics` is stored as the report; `arrays` feed the plots and are then dropped."""

    metrics: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def finite(value):
    """JSON-ready: numpy scalars to Python, +-inf/nan to None, recursively."""
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def far_key(rate: float) -> str:
    return f"{rate:g}"

