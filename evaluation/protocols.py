"""Evaluation protocols on labelled embeddings (plain numpy / scikit-learn, no Django).

Each protocol takes unit-length embeddings with an identity label per row and
returns a JSON-ready dict of figures plus the raw arrays the plots need. The
scores are the platform's: cosine similarity in the calibrated space of the serving
weights (recognition.pipeline.calibration), and for identify and identity-mode verify
that similarity scored for the number of templates compared, so recommended
thresholds are on the scale `identify` and `verify` apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold

from evaluation import metrics
from evaluation.plots import downsample_curve

FAR_TARGETS = (1e-1, 1e-2, 1e-3, 1e-4)
FPIR_TARGETS = (1e-1, 1e-2, 1e-3)
TOP_K = (1, 5)
MAX_BOOTSTRAP_PAIRS = 200_000  # above this, confidence intervals cost more than they tell

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    pass


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


# --------------------------------------------------------------------------- verification


def all_pairs(data: LabelledEmbeddings, *, max_impostor_pairs: int = 500_000, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every genuine pair, and every impostor pair or a seeded sample of them.

    Returns (index_a, index_b, scores, same). Sampling keeps the cost flat for a large
    gallery; the number of impostor pairs bounds the lowest FAR that can be resolved.
    """
    n = len(data)
    if n < 2:
        raise ValueError("need at least two embeddings to build pairs")
    labels = data.labels
    order = np.argsort(labels, kind="stable")
    genuine_a, genuine_b = [], []
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends):
        members = order[s:e]
        if members.size > 1:
            ia, ib = np.triu_indices(members.size, k=1)
            genuine_a.append(members[ia])
            genuine_b.append(members[ib])
    ga = np.concatenate(genuine_a) if genuine_a else np.zeros(0, int)
    gb = np.concatenate(genuine_b) if genuine_b else np.zeros(0, int)

    n_total = n * (n - 1) // 2
    n_impostor = n_total - ga.size
    if n_impostor <= max_impostor_pairs:
        ia, ib = np.triu_indices(n, k=1)
        keep = labels[ia] != labels[ib]
        ia, ib = ia[keep], ib[keep]
    else:
        rng = np.random.default_rng(seed)
        chunks, have = [], 0
        while have < max_impostor_pairs:
            a = rng.integers(0, n, size=2 * max_impostor_pairs)
            b = rng.integers(0, n, size=2 * max_impostor_pairs)
            keep = labels[a] != labels[b]
            pairs = np.unique(np.sort(np.stack([a[keep], b[keep]], axis=1), axis=1), axis=0)
            chunks.append(pairs)
            have = np.unique(np.concatenate(chunks), axis=0).shape[0]
        pairs = np.unique(np.concatenate(chunks), axis=0)
        pairs = pairs[rng.permutation(len(pairs))[:max_impostor_pairs]]
        ia, ib = pairs[:, 0], pairs[:, 1]
    index_a = np.concatenate([ga, ia]).astype(int)
    index_b = np.concatenate([gb, ib]).astype(int)
    same = np.concatenate([np.ones(ga.size, bool), np.zeros(ia.size, bool)])
    scores = metrics.cosine_similarity_pairs(data.embeddings[index_a], data.embeddings[index_b])
    return index_a, index_b, scores, same


def random_folds(same: np.ndarray, k: int = 10, seed: int = 0) -> np.ndarray:
    """Fold id per pair, genuine and impostor pairs spread evenly over `k` folds."""
    rng = np.random.default_rng(seed)
    folds = np.empty(same.size, int)
    for cls in (True, False):
        idx = np.flatnonzero(same == cls)
        folds[idx] = rng.permutation(idx.size) % k
    return folds


def verification(scores: np.ndarray, same: np.ndarray, *, folds: np.ndarray | None = None,
                 target_far: float = 1e-3, far_targets: Sequence[float] = FAR_TARGETS,
                 bootstrap: int = 200, seed: int = 0) -> ProtocolResult:
    """ROC, AUC, EER, TAR@FAR, k-fold accuracy and the recommended thresholds for `scores`.

    `folds` gives a fold per pair (LFW's ten); without it pairs are spread over ten
    random folds. The threshold recommendation is the laxest one whose FAR on these
    impostor pairs is at most `target_far`, plus the EER threshold.
    """
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError("verification needs both genuine and impostor pairs")
    targets = sorted(set(far_targets) | {target_far}, reverse=True)
    far, tar, thr = metrics.roc(scores, same)
    eer, eer_threshold = metrics.eer(scores, same)
    tars = metrics.tar_at_far(scores, same, targets)
    kfold = metrics.kfold_verification_accuracy(
        scores, same, folds if folds is not None else random_folds(same, seed=seed))
    auc = metrics.auc(scores, same)
    ci = {}
    if bootstrap and scores.size <= MAX_BOOTSTRAP_PAIRS:
        ci["auc"] = metrics.bootstrap_ci(metrics.auc, scores, same, n=bootstrap, seed=seed)
        ci["eer"] = metrics.bootstrap_ci(lambda s, y: metrics.eer(s, y)[0], scores, same, n=bootstrap, seed=seed)
    recommended = tars[target_far]
    roc_far, roc_tar = downsample_curve(far, tar)
    result = {
        "pairs": {"genuine": int(same.sum()), "impostor": int((~same).sum())},
        "auc": auc,
        "eer": eer,
        "eer_threshold": eer_threshold,
        "tar_at_far": {far_key(t): {"tar": r.tar, "threshold": r.threshold, "far": r.far,
                                    "resolvable": r.resolvable} for t, r in tars.items()},
        "accuracy": {"mean": kfold.mean, "std": kfold.std, "folds": len(kfold.folds),
                     "fold_accuracies": kfold.accuracies.tolist()},
        "confidence_intervals": {name: {"low": c.low, "high": c.high, "level": 1 - c.alpha, "resamples": c.n}
                                 for name, c in ci.items()},
        "recommended": {"target_far": target_far, "threshold": recommended.threshold,
                        "far": recommended.far, "tar": recommended.tar, "resolvable": recommended.resolvable,
                        "eer_threshold": eer_threshold},
        "roc": {"far": roc_far.tolist(), "tar": roc_tar.tolist()},
    }
    return ProtocolResult(metrics=finite(result), arrays={
        "genuine": scores[same], "impostor": scores[~same], "far": far, "tar": tar})


def breakdown_by_attribute(data: LabelledEmbeddings, index_a: np.ndarray, index_b: np.ndarray,
                           scores: np.ndarray, same: np.ndarray, *, threshold: float | None,
                           target_far: float = 1e-3, min_pairs: int = 10) -> dict:
    """Verification figures per attribute value, so a gap between groups is visible.

    A pair counts for a value when both photos' identities carry it (impostors within
    the group, as demographic FMR is usually measured). Besides each group's own ROC
    figures, the FAR and FRR at the platform-wide `threshold` show who pays for it.
    """
    if not data.attributes:
        return {}
    labels = data.labels
    keys = sorted({k for attrs in data.attributes.values() for k in attrs})
    out: dict = {}
    for key in keys:
        value_of = np.array([data.attributes.get(label, {}).get(key, "") for label in labels])
        va, vb = value_of[index_a], value_of[index_b]
        groups = {}
        for value in sorted(set(value_of.tolist()) - {""}):
            mask = (va == value) & (vb == value)
            s, y = scores[mask], same[mask]
            entry: dict = {"identities": int(len({label for label in labels[value_of == value]})),
                           "genuine_pairs": int(y.sum()), "impostor_pairs": int((~y).sum())}
            if y.sum() >= min_pairs and (~y).sum() >= min_pairs:
                e, _ = metrics.eer(s, y)
                t = metrics.tar_at_far(s, y, [target_far])[target_far]
                entry.update(auc=metrics.auc(s, y), eer=e, tar_at_target_far=t.tar,
                             tar_resolvable=t.resolvable)
                if threshold is not None and np.isfinite(threshold):
                    entry.update(far_at_threshold=float(np.mean(s[~y] >= threshold)),
                                 frr_at_threshold=float(np.mean(s[y] < threshold)))
            else:
                entry["note"] = f"fewer than {min_pairs} genuine or impostor pairs: figures left out"
            groups[value] = entry
        out[key] = groups
    return finite(out)


# --------------------------------------------------------------------------- closed-set identification


def _fit_classifier(classifier_factory, gallery: LabelledEmbeddings):
    """The SVM trained on `gallery` as the platform trains it, or None when it cannot train."""
    from recognition.pipeline.classifier import NotEnoughIdentities

    if classifier_factory is None:
        return None
    try:
        return classifier_factory().fit(gallery.embeddings, gallery.labels)
    except NotEnoughIdentities:
        return None


def _svm_decisions(model, probes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Decision value of each gallery identity (columns in `ids` order); -inf for one it left out."""
    rows = model.rows_for(ids)
    all_decisions = model.decision_function(probes)
    return np.where(rows >= 0, all_decisions[:, np.maximum(rows, 0)], -np.inf)


def _method_figures(ranks: np.ndarray, n_ids: int) -> dict:
    cmc = np.array([np.mean(ranks <= k) for k in range(1, n_ids + 1)])
    return {**{f"top{k}": float(cmc[min(k, n_ids) - 1]) for k in TOP_K}, "cmc": cmc[:50].tolist()}


def _no_scorer():
    from recognition.pipeline.open_set import Scorer

    return Scorer(None)


def kfold_identification(data: LabelledEmbeddings, *, k: int = 5, min_photos: int = 3,
                         classifier_factory=None, scorer=None, seed: int = 0, progress: Progress = _no_progress
                         ) -> ProtocolResult:
    """Closed-set identification by k-fold over photos, every fold's gallery enrolled afresh.

    Identities with fewer than `min_photos` photos are left out and listed. Each fold
    holds out about 1/k of every identity's photos as probes; the rest is the gallery.
    Two rankings: nearest template (the calibrated similarity of `scorer`) and the SVM
    retrained on the fold's gallery, over every identity.
    """
    scorer = scorer or _no_scorer()
    counts = data.counts()
    excluded = {label: n for label, n in counts.items() if n < min_photos}
    kept = data.subset(~np.isin(data.labels, list(excluded)))
    if len(set(kept.labels.tolist())) < 2:
        raise ValueError(f"need at least two identities with {min_photos}+ photos, "
                         f"have {len(set(kept.labels.tolist()))}")
    n_splits = int(min(k, min(kept.counts().values())))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    ranks: dict[str, list[np.ndarray]] = {"nearest_neighbour": [], "svm": []}
    fold_top1: dict[str, list[float]] = {m: [] for m in ranks}
    n_ids = len(set(kept.labels.tolist()))
    projected = scorer.project(kept.embeddings)
    for fold, (train, test) in enumerate(splitter.split(kept.embeddings, kept.labels)):
        gallery = kept.subset(np.isin(np.arange(len(kept)), train))
        probes = kept.subset(np.isin(np.arange(len(kept)), test))
        ids, nn = metrics.max_per_identity(projected[test] @ projected[train].T, gallery.labels)
        matrices = {"nearest_neighbour": nn}
        model = _fit_classifier(classifier_factory, gallery)
        if model is not None:
            matrices["svm"] = _svm_decisions(model, probes.embeddings, ids)
        for method, matrix in matrices.items():
            r, _ = metrics.identification_ranks(matrix, probes.labels, ids)
            ranks[method].append(r)
            fold_top1[method].append(float(np.mean(r == 1)))
        progress((fold + 1) / n_splits, f"identification fold {fold + 1} of {n_splits}")
    methods = {}
    for method, parts in ranks.items():
        if not parts:
            continue
        r = np.concatenate(parts)
        methods[method] = {**_method_figures(r, n_ids), "top1_fold_std": float(np.std(fold_top1[method])),
                           "probes": int(r.size)}
    result = {"folds": n_splits, "identities": n_ids, "photos": len(kept), "min_photos": min_photos,
              "methods": methods,
              "excluded_identities": [{"identity": label, "photos": n} for label, n in sorted(excluded.items())]}
    arrays = {f"cmc_{m}": np.array(v["cmc"]) for m, v in methods.items()}
    return ProtocolResult(metrics=finite(result), arrays=arrays)


# --------------------------------------------------------------------------- open-set identification

GALLERY, PROBE, STRANGER = "gallery", "probe", "stranger"


def choose_holdout(labels: np.ndarray, *, fraction: float, seed: int = 0) -> list[str]:
    """A seeded random `fraction` of the identities, to play strangers."""
    ids = np.unique(labels)
    n = max(1, int(round(fraction * ids.size)))
    if n >= ids.size:
        raise ValueError("holding out every identity leaves no one enrolled")
    return sorted(np.random.default_rng(seed).choice(ids, size=n, replace=False).tolist())


def open_set_split(labels, *, gallery_photos: int = 5, max_probes_per_identity: int = 4,
                   enrolled: int | None = None, strangers: int | None = None, holdout: Sequence[str] = (),
                   holdout_fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    """The role of each photo (row of `labels`): gallery, probe, stranger or "" (unused). Seeded.

    Strangers are the `holdout` identities when named, else `strangers` of them drawn
    from everyone not enrolled, else a `holdout_fraction` of the identities. Enrolled
    are `enrolled` identities drawn from those with more than `gallery_photos` photos
    (so each has a probe), else every other identity. Each enrolled identity keeps
    `gallery_photos` photos (one fewer than it has, at most) as its gallery and gives
    up to `max_probes_per_identity` others as mated probes; each stranger gives up to
    `max_probes_per_identity` photos as non-mated probes.
    """
    labels = np.asarray(labels).astype(str)
    rng = np.random.default_rng(seed)
    names, counts = np.unique(labels, return_counts=True)
    holdout = sorted(set(str(h) for h in holdout))
    missing = set(holdout) - set(names.tolist())
    if missing:
        raise ValueError(f"held-out identities not in the data: {sorted(missing)[:5]}")
    chosen: set[str] = set()
    if enrolled is not None:
        eligible = names[(counts > gallery_photos) & ~np.isin(names, holdout)]
        if eligible.size < enrolled:
            raise ValueError(f"only {eligible.size} identities have more than {gallery_photos} photos "
                             f"to enroll, {enrolled} asked for")
        chosen = set(rng.choice(eligible, size=enrolled, replace=False).tolist())
    if not holdout:
        others = np.array(sorted(set(names.tolist()) - chosen))
        if strangers is None:
            holdout = choose_holdout(others, fraction=holdout_fraction, seed=seed) if others.size else []
        elif others.size < strangers:
            raise ValueError(f"only {others.size} identities are left to play strangers, {strangers} asked for")
        else:
            holdout = rng.choice(others, size=strangers, replace=False).tolist()
    if enrolled is None:
        chosen = set(names.tolist()) - set(holdout)
    holdout = set(holdout)
    if not chosen or not holdout:
        raise ValueError("open set needs enrolled identities and at least one held-out identity")
    roles = np.full(labels.size, "", dtype=object)
    for name in names:
        rows = rng.permutation(np.flatnonzero(labels == name))
        if name in chosen:
            n_gallery = min(gallery_photos, max(rows.size - 1, 1))
            roles[rows[:n_gallery]] = GALLERY
            roles[rows[n_gallery:n_gallery + max_probes_per_identity]] = PROBE
        elif name in holdout:
            roles[rows[:max_probes_per_identity]] = STRANGER
    return roles.astype(str)


def open_set_identification(data: LabelledEmbeddings, *, roles: np.ndarray, scorer=None, classifier_factory=None,
                            identify_threshold: float | None = None, verify_threshold: float | None = None,
                            target_fpir: float = 1e-2, target_far: float = 1e-3,
                            fpir_targets: Sequence[float] = FPIR_TARGETS, top_k: int = 5, seed: int = 0
                            ) -> ProtocolResult:
    """Open-set 1:N (NIST FRVT style) and identity-mode 1:1 on a gallery / probe / stranger split.

    Every probe gets the answer `identify` gives (recognition.pipeline.open_set.
    identify_among: the `top_k` nearest identities by calibrated score, the first one's
    score against the threshold, vetoed when the SVM trained on the gallery picks another
    one), and the same without the classifier (`nearest_neighbour`), so the
    figures at `identify_threshold` are the platform's as configured. Also: DIR at
    FPIR over all thresholds on that score, the same for similarity ranking alone, and
    verify in identity mode (each mated probe claims its own identity, each stranger
    claims every enrolled one) at `verify_threshold` and as a ROC.
    """
    from recognition.pipeline.open_set import identify_among

    scorer = scorer or _no_scorer()
    roles = np.asarray(roles).astype(str)
    if roles.shape != data.labels.shape:
        raise ValueError("one role per photo")
    gallery = data.subset(roles == GALLERY)
    mated = data.subset(roles == PROBE)
    strangers = data.subset(roles == STRANGER)
    if len(mated) == 0 or len(strangers) == 0 or len(set(gallery.labels.tolist())) < 1:
        raise ValueError("open set needs enrolled identities with 2+ photos and at least one held-out identity")
    model = _fit_classifier(classifier_factory, gallery)
    probes = np.concatenate([mated.embeddings, strangers.embeddings])
    n_mated = len(mated)
    projected_gallery = scorer.project(gallery.embeddings)
    ids, per_id = metrics.max_per_identity(scorer.project(probes) @ projected_gallery.T, gallery.labels)
    templates_per_id = np.array([np.sum(gallery.labels == i) for i in ids])
    k = min(max(top_k, 5), ids.size)
    nearest = np.argsort(-per_id, axis=1, kind="stable")[:, :k]

    answers = {"identify": [], "nearest_neighbour": []} if model is not None else {"nearest_neighbour": []}
    for row in range(len(probes)):
        cols = nearest[row]
        for method in answers:
            answer = identify_among(probes[row], ids[cols], per_id[row, cols], comparisons=len(gallery),
                                    scorer=scorer, classifier=model if method == "identify" else None)
            # The first candidate, and the number accepted at a threshold (VETOED when the classifier disagrees).
            answers[method].append((ids[cols[answer.order[0]]], answer.decision_score()))

    targets = sorted(set(fpir_targets) | {target_fpir}, reverse=True)
    methods, arrays = {}, {}
    for method, rows in answers.items():
        first_label = np.array([label for label, _ in rows])
        first_score = np.array([score for _, score in rows])
        right = first_label[:n_mated] == mated.labels
        mated_score, nonmated_score = first_score[:n_mated], first_score[n_mated:]
        dirs = metrics.dir_at_fpir(mated_score, right, nonmated_score, targets)
        fpir_curve, dir_curve = _dir_fpir_curve(mated_score, right, nonmated_score)
        entry = {
            "dir_at_fpir": {far_key(t): {"dir": d.dir, "threshold": d.threshold, "fpir": d.fpir,
                                         "resolvable": d.resolvable} for t, d in dirs.items()},
            "rank1_closed_set": float(right.mean()),
            "curve": {"fpir": fpir_curve.tolist(), "dir": dir_curve.tolist()},
        }
        if identify_threshold is not None:
            accepted = first_score >= identify_threshold
            entry["at_threshold"] = {
                "threshold": identify_threshold,
                "correct": float(np.mean(right & accepted[:n_mated])),
                "wrong_person": float(np.mean(~right & accepted[:n_mated])),
                "unknown": float(np.mean(~accepted[:n_mated])),
                "strangers_accepted": float(np.mean(accepted[n_mated:])),
            }
        methods[method] = entry
        arrays[f"fpir_{method}"], arrays[f"dir_{method}"] = fpir_curve, dir_curve
        arrays[f"mated_{method}"], arrays[f"nonmated_{method}"] = mated_score, nonmated_score
        arrays[f"rank1_{method}"] = right
    serving = "identify" if "identify" in methods else "nearest_neighbour"
    chosen = methods[serving]["dir_at_fpir"][far_key(target_fpir)]

    # Verify in identity mode: the best of the claimed identity's templates, scored for their number.
    column = {label: i for i, label in enumerate(ids.tolist())}
    claimed = np.array([column[label] for label in mated.labels])
    genuine = scorer.score(per_id[np.arange(n_mated), claimed], templates_per_id[claimed])
    impostor = scorer.score(per_id[n_mated:], templates_per_id[None, :]).ravel()
    claims = np.concatenate([genuine, impostor])
    same = np.r_[np.ones(genuine.size, bool), np.zeros(impostor.size, bool)]
    verify = verification(claims, same, target_far=target_far, seed=seed, bootstrap=0).metrics
    verify["claims"] = {"genuine": int(genuine.size), "impostor": int(impostor.size),
                        "impostor_claims": "every stranger photo claims every enrolled identity"}
    if verify_threshold is not None:
        verify["at_threshold"] = {"threshold": verify_threshold, "tar": float(np.mean(genuine >= verify_threshold)),
                                  "far": float(np.mean(impostor >= verify_threshold))}
    arrays["verify_genuine"], arrays["verify_impostor"] = genuine, impostor

    result = {
        "enrolled_identities": int(np.unique(gallery.labels).size),
        "held_out_identities": sorted(set(strangers.labels.tolist())),
        "gallery_photos": len(gallery), "mated_probes": n_mated, "nonmated_probes": len(strangers),
        "classifier": None if model is None else {"identities": model.metadata_.n_classes,
                                                  "temperature": model.metadata_.temperature},
        "methods": methods,
        "verify_identity": verify,
        "recommended": {"target_fpir": target_fpir, "score": serving, "threshold": chosen["threshold"],
                        "dir": chosen["dir"], "fpir": chosen["fpir"], "resolvable": chosen["resolvable"]},
    }
    arrays["serving_method"] = np.array([serving])
    return ProtocolResult(metrics=finite(result), arrays=arrays)


def _dir_fpir_curve(mated: np.ndarray, rank1: np.ndarray, nonmated: np.ndarray, max_points: int = 500):
    """(FPIR, DIR) over thresholds from strict to lax."""
    thresholds = np.unique(np.concatenate([mated, nonmated]))[::-1]
    fpir = np.searchsorted(np.sort(nonmated), thresholds, side="left")
    fpir = 1.0 - fpir / nonmated.size
    order = np.argsort(-mated)
    hits = np.cumsum(rank1[order])  # hits among the top-j mated scores
    sorted_mated = -np.sort(-mated)
    j = np.searchsorted(-sorted_mated, -thresholds, side="right")  # mated with score >= t
    dir_ = np.where(j > 0, hits[np.maximum(j - 1, 0)], 0) / mated.size
    return downsample_curve(np.r_[0.0, fpir], np.r_[0.0, dir_], max_points=max_points)
