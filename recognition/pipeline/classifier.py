"""SVM identification classifier over face embeddings (scikit-learn, joblib files).

`FaceClassifier().fit(embeddings, labels)` chooses a linear or RBF kernel by a
quick stratified cross-validation, then fits the chosen SVC on all data with
sigmoid (Platt) probability calibration. `save(dir)` writes `classifier.joblib`,
`label_encoder.joblib` and `classifier.json` (versions, sizes, validation
accuracy); `FaceClassifier.load(dir)` reads them back.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC

CLASSIFIER_FILE = "classifier.joblib"
ENCODER_FILE = "label_encoder.joblib"
METADATA_FILE = "classifier.json"


class NotEnoughIdentities(ValueError):
    """Fewer than two identities with enough samples: nothing to discriminate."""


@dataclass
class ClassifierMetadata:
    kernel: str
    n_samples: int
    n_classes: int
    validation_accuracy: float | None
    validation_folds: int
    kernel_scores: dict[str, float] = field(default_factory=dict)
    dropped_labels: list[str] = field(default_factory=list)
    training_seconds: float = 0.0
    sklearn_version: str = sklearn.__version__
    model_version: str | None = None


class FaceClassifier:
    """fit / predict / predict_proba on L2-normalised embeddings."""

    def __init__(self, kernel: str = "auto", C: float = 10.0, min_samples_per_class: int = 2,
                 max_validation_folds: int = 5, random_state: int = 0):
        if kernel not in {"auto", "linear", "rbf"}:
            raise ValueError(f"kernel must be auto, linear or rbf, not {kernel!r}")
        self.kernel = kernel
        self.C = C
        self.min_samples_per_class = min_samples_per_class
        self.max_validation_folds = max_validation_folds
        self.random_state = random_state
        self.svc_: CalibratedClassifierCV | None = None
        self.encoder_: LabelEncoder | None = None
        self.metadata_: ClassifierMetadata | None = None

    def _calibrated_svc(self, kernel: str, folds: int) -> CalibratedClassifierCV:
        # Platt scaling on cross-validated decision values, one SVC fitted on all data
        # (what SVC(probability=True) did before scikit-learn 1.9 deprecated it).
        return CalibratedClassifierCV(SVC(kernel=kernel, C=self.C, gamma="scale"), method="sigmoid",
                                      cv=max(2, folds), ensemble=False)

    def fit(self, embeddings: np.ndarray, labels: list[str] | np.ndarray, *,
            model_version: str | None = None) -> FaceClassifier:
        started = time.monotonic()
        X = np.asarray(embeddings, dtype=np.float32)
        y = np.asarray(labels).astype(str)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError("embeddings must be (n, d) with one label per row")
        names, counts = np.unique(y, return_counts=True)
        kept = set(names[counts >= self.min_samples_per_class])
        dropped = sorted(set(names) - kept)
        mask = np.isin(y, list(kept))
        X, y = X[mask], y[mask]
        if len(kept) < 2:
            raise NotEnoughIdentities(
                f"need at least 2 identities with {self.min_samples_per_class}+ samples, have {len(kept)}")

        self.encoder_ = LabelEncoder().fit(y)
        y_idx = self.encoder_.transform(y)
        folds = int(min(self.max_validation_folds, np.bincount(y_idx).min()))
        kernels = ["linear", "rbf"] if self.kernel == "auto" else [self.kernel]
        scores: dict[str, float] = {}
        if folds >= 2:
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            for kernel in kernels:
                # Plain SVC (no probability) for speed: the ranking of kernels is what matters.
                estimator = SVC(kernel=kernel, C=self.C, gamma="scale")
                scores[kernel] = float(cross_val_score(estimator, X, y_idx, cv=cv).mean())
            chosen = max(scores, key=scores.get)
        else:
            chosen = kernels[0]
        self.svc_ = self._calibrated_svc(chosen, folds).fit(X, y_idx)
        self.metadata_ = ClassifierMetadata(
            kernel=chosen, n_samples=len(X), n_classes=len(kept),
            validation_accuracy=scores.get(chosen), validation_folds=folds if folds >= 2 else 0,
            kernel_scores=scores, dropped_labels=dropped,
            training_seconds=round(time.monotonic() - started, 3), model_version=model_version,
        )
        return self

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()
        return self.encoder_.classes_

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self.svc_.predict_proba(np.asarray(embeddings, dtype=np.float32))

    def proba_by_label(self, embeddings: np.ndarray) -> list[dict[str, float]]:
        """For each row, {label: probability}."""
        proba = self.predict_proba(embeddings)
        labels = self.encoder_.classes_[self.svc_.classes_]
        return [dict(zip(labels.tolist(), row.tolist())) for row in proba]

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(embeddings)
        return self.encoder_.classes_[self.svc_.classes_[proba.argmax(axis=1)]]

    def save(self, out_dir: Path) -> Path:
        self._check_fitted()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.svc_, out_dir / CLASSIFIER_FILE)
        joblib.dump(self.encoder_, out_dir / ENCODER_FILE)
        (out_dir / METADATA_FILE).write_text(json.dumps(asdict(self.metadata_), indent=2))
        return out_dir

    @classmethod
    def load(cls, in_dir: Path) -> FaceClassifier:
        in_dir = Path(in_dir)
        metadata = ClassifierMetadata(**json.loads((in_dir / METADATA_FILE).read_text()))
        model = cls(kernel=metadata.kernel)
        model.svc_ = joblib.load(in_dir / CLASSIFIER_FILE)
        model.encoder_ = joblib.load(in_dir / ENCODER_FILE)
        model.metadata_ = metadata
        return model

    def _check_fitted(self) -> None:
        if self.svc_ is None or self.encoder_ is None:
            raise RuntimeError("FaceClassifier is not fitted")
