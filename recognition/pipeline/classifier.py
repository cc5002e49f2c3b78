"""SVM identification classifier over face embeddings: one-vs-rest linear, built to scale.

`FaceClassifier().fit(embeddings, labels)` trains one linear SVM per identity (squared
hinge loss, L2-regularised, the objective of liblinear's default LinearSVC) against a
bounded set of negatives: the templates of its nearest other identities (by centroid)
and a shared random background sample. Each identity's problem has a fixed size, so
training grows linearly with the number of templates, and all of them are solved
together, a chunk of identities per batched matrix product (accelerated gradient).

At identify time only the candidates the nearest-neighbour search returned are scored
(`decision_for`: one dot product each), and `proba_for` turns their decision values
into probabilities with a softmax whose temperature was fitted on held-out templates
(the ranking stays the SVM's). `fit(..., previous=model, keys=...)` refits only the
identities whose templates changed and keeps the rest.

`save(dir)` writes `weights.npy` (float32, memory-mapped on load), `classifier.json`
(labels, biases, metadata); no training vector is kept in the artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

WEIGHTS_FILE = "weights.npy"
METADATA_FILE = "classifier.json"
FORMAT = "ovr-linear-svm/1"


class NotEnoughIdentities(ValueError):
    """Fewer than two identities with enough samples: nothing to discriminate."""


@dataclass
class ClassifierMetadata:
    kernel: str
    n_samples: int
    n_classes: int
    validation_accuracy: float | None  # top-1 of held-out templates among their nearest identities
    validation_folds: int
    temperature: float = 1.0
    dropped_labels: list[str] = field(default_factory=list)
    training_seconds: float = 0.0
    refitted: int = 0  # identities trained in this fit (the rest were kept from `previous`)
    incremental: bool = False
    model_version: str | None = None
    format: str = FORMAT


def _fingerprint(keys) -> str:
    return hashlib.sha256(",".join(sorted(str(k) for k in keys)).encode()).hexdigest()[:16]


class FaceClassifier:
    """fit / decision_for / proba_for / predict on L2-normalised embeddings."""

    kernel = "linear"

    def __init__(self, C: float = 0.03, min_samples_per_class: int = 2, hard_negative_identities: int = 8,
                 max_hard_negatives: int = 40, background: int = 48, iterations: int = 20,
                 temperature_identities: int = 200, chunk: int = 1024, max_incremental_fraction: float = 0.25,
                 random_state: int = 0):
        self.C = C
        self.min_samples_per_class = min_samples_per_class
        self.hard_negative_identities = hard_negative_identities
        self.max_hard_negatives = max_hard_negatives
        self.background = background
        self.iterations = iterations
        self.temperature_identities = temperature_identities
        self.chunk = chunk
        self.max_incremental_fraction = max_incremental_fraction
        self.random_state = random_state
        self.labels_: np.ndarray | None = None  # sorted str labels, one row of weights each
        self.weights_: np.ndarray | None = None  # (n_classes, d)
        self.bias_: np.ndarray | None = None  # (n_classes,)
        self.fingerprints_: dict[str, str] = {}
        self.metadata_: ClassifierMetadata | None = None

    # ------------------------------------------------------------------ training

    def fit(self, embeddings: np.ndarray, labels, *, model_version: str | None = None, keys=None,
            previous: FaceClassifier | None = None) -> FaceClassifier:
        """Train on rows of unit embeddings; `keys` (one per row, e.g. template ids) let a later fit
        with `previous` keep the identities whose rows did not change."""
        started = time.monotonic()
        X = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
        y = np.asarray(labels).astype(str)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError("embeddings must be (n, d) with one label per row")
        keys = np.arange(len(y)) if keys is None else np.asarray(keys)
        if len(keys) != len(y):
            raise ValueError("one key per row")
        names, counts = np.unique(y, return_counts=True)
        kept_names = names[counts >= self.min_samples_per_class]
        dropped = sorted(set(names.tolist()) - set(kept_names.tolist()))
        if len(kept_names) < 2:
            raise NotEnoughIdentities(
                f"need at least 2 identities with {self.min_samples_per_class}+ samples, have {len(kept_names)}")
        mask = np.isin(y, kept_names)
        X, y, keys = X[mask], y[mask], keys[mask]
        classes, row_class = np.unique(y, return_inverse=True)
        members = _members(row_class, len(classes))
        fingerprints = {label: _fingerprint(keys[rows]) for label, rows in zip(classes.tolist(), members)}

        rng = np.random.default_rng(self.random_state)
        centroids = _unit(np.stack([X[rows].mean(axis=0) for rows in members]))
        neighbours = _nearest_other(centroids, self.hard_negative_identities)

        todo = np.arange(len(classes))
        weights = np.zeros((len(classes), X.shape[1]), np.float32)
        bias = np.zeros(len(classes), np.float32)
        temperature = None
        incremental = False
        if previous is not None and previous.labels_ is not None and previous.fingerprints_:
            same = np.array([previous.fingerprints_.get(label) == fingerprints[label] for label in classes])
            rows = previous.rows_for(classes[same])
            weights[same], bias[same] = previous.weights_[rows], previous.bias_[rows]
            todo = np.flatnonzero(~same)
            if todo.size <= self.max_incremental_fraction * len(classes):
                temperature = previous.metadata_.temperature if previous.metadata_ else None
                incremental = True
            else:  # much has changed: the neighbours and the temperature are worth refitting too
                todo = np.arange(len(classes))
        if todo.size:
            w, b = self._solve(X, row_class, members, neighbours, todo, rng)
            weights[todo], bias[todo] = w, b

        validation = None
        folds = 0
        if temperature is None:
            temperature, validation = self._fit_temperature(X, row_class, members, neighbours, rng)
            folds = 1 if validation is not None else 0
        self.labels_, self.weights_, self.bias_ = classes, weights, bias
        self.fingerprints_ = fingerprints
        self.metadata_ = ClassifierMetadata(
            kernel=self.kernel, n_samples=int(len(X)), n_classes=int(len(classes)),
            validation_accuracy=validation, validation_folds=folds, temperature=float(temperature),
            dropped_labels=dropped, training_seconds=round(time.monotonic() - started, 3),
            refitted=int(todo.size), incremental=incremental, model_version=model_version)
        return self

    def _solve(self, X, row_class, members, neighbours, todo, rng) -> tuple[np.ndarray, np.ndarray]:
        """Batched L2-SVM (squared hinge) in the dual, liblinear's coordinate descent run for a chunk
        of identities at once: each problem has at most max_positives + max_hard_negatives +
        background rows, so it is solved on its small Gram matrix."""
        n, d = X.shape
        background = rng.choice(n, size=min(self.background, n), replace=False)
        Xa = np.hstack([X, np.ones((n, 1), np.float32)])  # the bias as a constant feature, as liblinear
        max_pos = max(len(members[c]) for c in todo)
        W_out = np.zeros((len(todo), d + 1), np.float32)
        for start in range(0, len(todo), self.chunk):
            chunk = todo[start:start + self.chunk]
            b = len(chunk)
            rows = np.full((b, max_pos + self.max_hard_negatives + len(background)), -1, np.int64)
            sign = np.zeros(rows.shape, np.float32)
            for i, c in enumerate(chunk):
                pos = members[c]
                neg = [r for other in neighbours[c] for r in members[other]][: self.max_hard_negatives]
                neg += [r for r in background if row_class[r] != c]
                rows[i, : len(pos)] = pos
                rows[i, max_pos:max_pos + len(neg)] = neg
                sign[i, : len(pos)] = 1.0
                sign[i, max_pos:max_pos + len(neg)] = -1.0
            valid = sign != 0
            # Balanced class weights (scikit-learn's "balanced"): C_i = C * m / (2 * m_class).
            n_pos = (sign > 0).sum(axis=1, keepdims=True)
            n_neg = (sign < 0).sum(axis=1, keepdims=True)
            m_rows = n_pos + n_neg
            c_i = np.where(sign > 0, self.C * m_rows / (2.0 * n_pos), self.C * m_rows / (2.0 * np.maximum(n_neg, 1)))
            Z = Xa[np.maximum(rows, 0)] * (sign * valid)[:, :, None]  # y_i x_i, zero rows for padding
            Q = np.matmul(Z, Z.transpose(0, 2, 1))  # (b, m, m) = y_i y_j x_i.x_j
            diag = np.where(valid, 1.0 / (2.0 * c_i), 1.0).astype(np.float32)
            idx = np.arange(Q.shape[1])
            Q[:, idx, idx] += diag
            alpha = np.zeros(sign.shape, np.float32)
            grad = -np.ones(sign.shape, np.float32)  # Q alpha - 1
            qii = Q[:, idx, idx]
            for _ in range(self.iterations):
                for i in range(Q.shape[1]):
                    new = np.maximum(alpha[:, i] - grad[:, i] / qii[:, i], 0.0) * valid[:, i]
                    delta = new - alpha[:, i]
                    alpha[:, i] = new
                    grad += delta[:, None] * Q[:, :, i]
            W_out[start:start + b] = np.matmul(alpha[:, None, :], Z)[:, 0, :]
        return W_out[:, :-1].copy(), W_out[:, -1].copy()

    def _fit_temperature(self, X, row_class, members, neighbours, rng) -> tuple[float, float | None]:
        """Softmax temperature over candidates' decision values, fitted on held-out templates.

        A seeded sample of identities with 3+ templates each gives one template up; the
        SVMs of those identities and of their nearest identities (the candidates a search
        would return) are trained without the held-out rows; the temperature minimises
        the held-out templates' negative log-likelihood among their candidates.
        """
        eligible = [c for c in range(len(members)) if len(members[c]) >= 3]
        if len(eligible) < 2:
            return 1.0, None
        chosen = rng.choice(eligible, size=min(self.temperature_identities, len(eligible)), replace=False)
        held = np.array([rng.choice(members[c]) for c in chosen])
        keep = np.ones(len(X), bool)
        keep[held] = False
        X2, row_class2 = X[keep], row_class[keep]
        members2 = _members(row_class2, len(members))
        k = self.hard_negative_identities
        candidates = np.array([np.r_[c, neighbours[c][:k]] for c in chosen])  # true class first
        involved = np.unique(candidates)
        w, b = self._solve(X2, row_class2, members2, neighbours, involved, rng)
        where = {c: i for i, c in enumerate(involved.tolist())}
        idx = np.vectorize(where.get)(candidates)
        decisions = np.einsum("nkd,nd->nk", w[idx], X[held]) + b[idx]
        accuracy = float(np.mean(decisions.argmax(axis=1) == 0))

        def nll(log_t: float) -> float:
            z = decisions / np.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[:, 0]))

        grid = np.linspace(-4.0, 2.0, 61)
        best = grid[int(np.argmin([nll(g) for g in grid]))]
        fine = np.linspace(best - 0.1, best + 0.1, 21)
        best = fine[int(np.argmin([nll(g) for g in fine]))]
        return float(np.exp(best)), accuracy

    # ------------------------------------------------------------------ scoring

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()
        return self.labels_

    def rows_for(self, labels) -> np.ndarray:
        """Row of each label in the weights, -1 for a label the model does not know."""
        self._check_fitted()
        labels = np.asarray(labels).astype(str)
        if self.labels_.size == 0 or labels.size == 0:
            return np.full(labels.shape, -1, np.int64)
        pos = np.clip(np.searchsorted(self.labels_, labels), 0, self.labels_.size - 1)
        return np.where(self.labels_[pos] == labels, pos, -1)

    def decision_for(self, embedding: np.ndarray, labels) -> np.ndarray:
        """Decision value of each label for one embedding (NaN for unknown labels)."""
        rows = self.rows_for(labels)
        out = np.full(rows.shape, np.nan)
        known = rows >= 0
        x = np.asarray(embedding, dtype=np.float32)
        out[known] = self.weights_[rows[known]] @ x + self.bias_[rows[known]]
        return out

    def proba_for(self, embedding: np.ndarray, labels) -> np.ndarray:
        """Softmax over the known labels' decision values (NaN for labels the model does not know)."""
        d = self.decision_for(embedding, labels)
        out = np.full(d.shape, np.nan)
        known = ~np.isnan(d)
        if known.any():
            z = d[known] / self.metadata_.temperature
            z = np.exp(z - z.max())
            out[known] = z / z.sum()
        return out

    def decision_function(self, embeddings: np.ndarray) -> np.ndarray:
        """Every class for every row (n, n_classes): for evaluation on small galleries."""
        self._check_fitted()
        return np.asarray(embeddings, dtype=np.float32) @ self.weights_.T + self.bias_

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return self.labels_[self.decision_function(embeddings).argmax(axis=1)]

    # ------------------------------------------------------------------ persistence

    def save(self, out_dir: Path) -> Path:
        self._check_fitted()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        np.save(out_dir / WEIGHTS_FILE, self.weights_.astype(np.float32))
        doc = {"metadata": asdict(self.metadata_), "labels": self.labels_.tolist(),
               "bias": [float(v) for v in self.bias_], "fingerprints": self.fingerprints_}
        (out_dir / METADATA_FILE).write_text(json.dumps(doc))
        return out_dir

    def save_atomic(self, out_dir: Path) -> Path:
        """Replace the files of `out_dir` so a reader sees the old model or the new one, never a mix."""
        out_dir = Path(out_dir)
        staging = out_dir.with_name(out_dir.name + ".new")
        self.save(staging)
        for name in (WEIGHTS_FILE, METADATA_FILE):
            os.replace(staging / name, out_dir / name)
        staging.rmdir()
        return out_dir

    def without_labels(self, labels) -> bool:
        """Drop the rows of `labels` (an erased identity); True when any was there."""
        self._check_fitted()
        drop = np.isin(self.labels_, np.asarray(labels).astype(str))
        if not drop.any():
            return False
        keep = ~drop
        self.labels_, self.bias_ = self.labels_[keep], np.asarray(self.bias_)[keep]
        self.weights_ = np.ascontiguousarray(np.asarray(self.weights_)[keep])
        self.fingerprints_ = {k: v for k, v in self.fingerprints_.items() if k in set(self.labels_.tolist())}
        self.metadata_.n_classes = int(keep.sum())
        return True

    @classmethod
    def load(cls, in_dir: Path) -> FaceClassifier:
        in_dir = Path(in_dir)
        doc = json.loads((in_dir / METADATA_FILE).read_text())
        if doc.get("metadata", {}).get("format") != FORMAT:
            raise ValueError(f"{in_dir}: not a {FORMAT} classifier")
        model = cls()
        model.metadata_ = ClassifierMetadata(**doc["metadata"])
        model.labels_ = np.asarray(doc["labels"], dtype=str)
        model.bias_ = np.asarray(doc["bias"], dtype=np.float32)
        model.fingerprints_ = doc.get("fingerprints", {})
        model.weights_ = np.load(in_dir / WEIGHTS_FILE, mmap_mode="r")
        return model

    def _check_fitted(self) -> None:
        if self.weights_ is None or self.labels_ is None:
            raise RuntimeError("FaceClassifier is not fitted")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _members(row_class: np.ndarray, n_classes: int) -> list[np.ndarray]:
    order = np.argsort(row_class, kind="stable")
    bounds = np.searchsorted(row_class[order], np.arange(n_classes + 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(n_classes)]


EXACT_NEIGHBOURS_UP_TO = 20_000  # identities; past this the neighbour search is approximate


def _nearest_other(centroids: np.ndarray, k: int, block: int = 2048, seed: int = 0) -> np.ndarray:
    """For each centroid, the k most similar other centroids (approximately past EXACT_NEIGHBOURS_UP_TO).

    Exact search costs n^2 dot products (100,000 identities: ten billion); past the limit the
    centroids are bucketed by k-means and each bucket searches only its nearest buckets, which
    keeps training roughly linear. The neighbours only choose the hard negatives, so a missed
    one costs a little margin, not a wrong answer.
    """
    n = len(centroids)
    k = min(k, n - 1)
    if n <= EXACT_NEIGHBOURS_UP_TO:
        return _nearest_among(centroids, np.arange(n), np.arange(n), k, block)
    rng = np.random.default_rng(seed)
    n_lists = int(4 * np.sqrt(n))
    probe = 8
    lists = _kmeans(centroids, n_lists, rng)
    assignment = _assign(centroids, lists, block)
    members = _members(assignment, n_lists)
    near_lists = _nearest_among(lists, np.arange(n_lists), np.arange(n_lists), probe - 1, block)
    out = np.empty((n, k), np.int64)
    for c in range(n_lists):
        queries = members[c]
        if not queries.size:
            continue
        pool = np.concatenate([members[c]] + [members[other] for other in near_lists[c]])
        if pool.size <= k:  # a tiny neighbourhood: fall back to every centroid for these few
            pool = np.arange(n)
        out[queries] = _nearest_among(centroids, queries, pool, k, block)
    return out


def _nearest_among(points: np.ndarray, queries: np.ndarray, pool: np.ndarray, k: int, block: int) -> np.ndarray:
    """For each of `queries` (row indices), the k most similar rows of `pool` other than itself."""
    out = np.empty((len(queries), k), np.int64)
    candidates = points[pool]
    for start in range(0, len(queries), block):
        q = queries[start:start + block]
        sims = points[q] @ candidates.T
        sims[pool[None, :] == q[:, None]] = -np.inf  # not its own neighbour
        if k < len(pool) - 1:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.argsort(-sims, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start:start + len(q)] = pool[np.take_along_axis(part, order, axis=1)]
    return out


def _kmeans(points: np.ndarray, n_lists: int, rng: np.random.Generator, iterations: int = 6,
            sample: int = 50_000) -> np.ndarray:
    """Spherical k-means on a sample: unit centres of `n_lists` buckets."""
    train = points[rng.choice(len(points), size=min(sample, len(points)), replace=False)]
    centres = train[rng.choice(len(train), size=n_lists, replace=False)].copy()
    for _ in range(iterations):
        assignment = _assign(train, centres, 4096)
        sums = np.zeros_like(centres)
        np.add.at(sums, assignment, train)
        empty = ~np.any(sums, axis=1)
        sums[empty] = train[rng.choice(len(train), size=int(empty.sum()), replace=False)]
        centres = _unit(sums)
    return centres


def _assign(points: np.ndarray, centres: np.ndarray, block: int) -> np.ndarray:
    return np.concatenate([np.argmax(points[start:start + block] @ centres.T, axis=1)
                           for start in range(0, len(points), block)])
