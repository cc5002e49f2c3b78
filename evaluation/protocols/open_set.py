"""Open-set identification (NIST FRVT style) and identity-mode verify on a gallery / probe / stranger split
(no Django)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluation import metrics
from evaluation.plots import downsample_curve
from evaluation.protocols.common import FPIR_TARGETS, LabelledEmbeddings, ProtocolResult, far_key, finite, no_scorer
from evaluation.protocols.identification import fit_classifier
from evaluation.protocols.verification import verification
from recognition.pipeline.open_set import identify_among

GALLERY, PROBE, STRANGER = "gallery", "probe", "stranger"


class SplitError(ValueError):
    """A split the data cannot give; `parameter` names the split's argument that asked for it."""

    def __init__(self, message: str, parameter: str):
        super().__init__(message)
        self.parameter = parameter


def choose_holdout(labels: np.ndarray, *, fraction: float, seed: int = 0) -> list[str]:
    """A seeded random `fraction` of the identities, to play strangers."""
    ids = np.unique(labels)
    n = max(1, int(round(fraction * ids.size)))
    if n >= ids.size:
        raise SplitError("holding out every identity leaves no one enrolled", "holdout_fraction")
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
        raise SplitError(f"held-out identities not in the data: {sorted(missing)[:5]}", "holdout")
    chosen: set[str] = set()
    if enrolled is not None:
        eligible = names[(counts > gallery_photos) & ~np.isin(names, holdout)]
        if eligible.size < enrolled:
            raise SplitError(f"only {eligible.size} identities have more than {gallery_photos} photos "
                             f"to enroll, {enrolled} asked for", "enrolled")
        chosen = set(rng.choice(eligible, size=enrolled, replace=False).tolist())
    if not holdout:
        others = np.array(sorted(set(names.tolist()) - chosen))
        if strangers is None:
            holdout = choose_holdout(others, fraction=holdout_fraction, seed=seed) if others.size else []
        elif others.size < strangers:
            raise SplitError(f"only {others.size} identities are left to play strangers, {strangers} asked for",
                             "strangers")
        else:
            holdout = rng.choice(others, size=strangers, replace=False).tolist()
    if enrolled is None:
        chosen = set(names.tolist()) - set(holdout)
    holdout = set(holdout)
    if not chosen or not holdout:
        raise SplitError("open set needs enrolled identities and at least one held-out identity",
                         "holdout" if chosen else "enrolled")
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
    scorer = scorer or no_scorer()
    roles = np.asarray(roles).astype(str)
    if roles.shape != data.labels.shape:
        raise ValueError("one role per photo")
    gallery = data.subset(roles == GALLERY)
    mated = data.subset(roles == PROBE)
    strangers = data.subset(roles == STRANGER)
    if len(mated) == 0 or len(strangers) == 0 or len(set(gallery.labels.tolist())) < 1:
        raise SplitError("open set needs enrolled identities with 2+ photos and at least one held-out identity",
                         "holdout")
    model = fit_classifier(classifier_factory, gallery)
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
