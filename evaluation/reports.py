"""The three report kinds: parameters in, metrics + plots + skipped items out.

`run_report` is shared by the Celery task (which stores the result on an
EvaluationReport) and `manage.py evaluate` (which writes it to a folder).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from evaluation import plots, protocols
from evaluation.datasets import (DatasetError, FolderListing, enrolled_dataset, enrolled_liveness_scores,
                                 folder_dataset, list_folder, resolve_folder)
from evaluation.protocols import LabelledEmbeddings
from recognition.pipeline.open_set import VETOED

Progress = Callable[[float, str], None]

KINDS = ("enrolled", "benchmark", "open-set")
SCORE_NAMES = {
    "verify": "calibrated cosine similarity (mean face subtracted), scored for the templates compared",
    "identify": "calibrated similarity of the first candidate, scored for the templates searched",
}
PLOT_TITLES = {
    "roc": "ROC (verification)",
    "det": "DET (verification)",
    "scores": "Genuine vs impostor scores",
    "cmc": "CMC (closed-set identification)",
    "dir_fpir": "DIR vs FPIR (open set)",
    "open_set_scores": "Mated vs non-mated top scores (open set)",
}


class ParameterError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass
class ReportOutput:
    metrics: dict
    plots: dict[str, str]  # plot name -> file name inside the output folder
    skipped: dict[str, str] = field(default_factory=dict)
    model_version: str = ""
    classifier_version: int | None = None
    liveness_scores: list[float | None] | None = None  # of the photos used, for the bona fide acceptance


# --------------------------------------------------------------------------- parameters


def _int(raw: dict, name: str, default: int | None, low: int, high: int) -> int | None:
    value = raw.get(name, default)
    if value is None or value == "":
        return default
    try:
        value = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinity from a form or the CLI
        raise ParameterError(f"{name} must be a whole number", name) from None
    if not low <= value <= high:
        raise ParameterError(f"{name} must be between {low} and {high}", name)
    return value


def _float(raw: dict, name: str, default: float, low: float, high: float) -> float:
    value = raw.get(name, default)
    if value is None or value == "":
        return default
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number", name) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ParameterError(f"{name} must be between {low:g} and {high:g}", name)
    return value


def _bool(raw: dict, name: str) -> bool:
    value = raw.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on"}:
        return True
    if value in (None, "", 0) or (isinstance(value, str) and value.lower() in {"false", "0", "no", "off"}):
        return False
    raise ParameterError(f"{name} must be true or false", name)


def clean_parameters(kind: str, raw: dict | None) -> dict:
    """Validated parameters with defaults filled in; ParameterError names the field at fault."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}", "kind")
    raw = dict(raw or {})
    known = {"seed", "target_far", "folds", "min_photos", "max_impostor_pairs", "folder", "pairs",
             "pairs_per_fold", "tta", "subtract_mean", "max_identities", "max_photos_per_identity", "source",
             "holdout", "holdout_fraction", "gallery_photos", "max_probes_per_identity", "enrolled", "strangers",
             "target_fpir"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ParameterError(f"unknown parameter(s): {', '.join(unknown)}", unknown[0])
    p: dict = {"seed": _int(raw, "seed", 0, 0, 2**31 - 1),
               "target_far": _float(raw, "target_far", settings.FACEREC_TARGET_FAR, 1e-6, 0.5),
               # Closed-set identification needs 3 photos per identity; an open set's strangers 1, but
               # LFW's single-photo people are the impostors the shipped calibration was measured on.
               "min_photos": _int(raw, "min_photos", 2 if kind == "open-set" else 3, 1 if kind == "open-set" else 2,
                                  1000),
               "folds": _int(raw, "folds", 5, 2, 10),
               "max_impostor_pairs": _int(raw, "max_impostor_pairs", 500_000, 1000, 5_000_000)}
    source = raw.get("source") or ("folder" if kind == "benchmark" or raw.get("folder") else "enrolled")
    if kind == "benchmark" and source != "folder":
        raise ParameterError("a benchmark report reads a dataset folder", "source")
    if source not in {"enrolled", "folder"}:
        raise ParameterError("source must be enrolled or folder", "source")
    p["source"] = source
    if kind == "enrolled" and source != "enrolled":
        raise ParameterError("an enrolled-data report reads the platform's approved photos", "source")
    if source == "folder":
        folder = str(raw.get("folder") or "").strip()
        try:
            resolve_folder(folder)
        except DatasetError as exc:
            raise ParameterError(str(exc), "folder") from None
        p["folder"] = folder
        p["max_identities"] = _int(raw, "max_identities", None, 2, 1_000_000)
        p["max_photos_per_identity"] = _int(raw, "max_photos_per_identity", None, 1, 100_000)
        p["tta"] = _bool(raw, "tta")
    if kind == "benchmark":
        pairs = str(raw.get("pairs") or "").strip()
        if pairs:
            folder = resolve_folder(p["folder"])
            try:
                path = (folder / pairs).resolve()  # a link out of the folder resolves outside it: refused
                usable = path.is_relative_to(folder) and path.is_file()
            except (ValueError, OSError):  # a NUL byte, a name too long
                usable = False
            if not usable:
                raise ParameterError(f"no pairs file {pairs!r} in {p['folder']}", "pairs")
            p["pairs"] = pairs
            p["pairs_per_fold"] = _int(raw, "pairs_per_fold", None, 1, 100_000)
            p["subtract_mean"] = _bool(raw, "subtract_mean")
        elif raw.get("subtract_mean") and _bool(raw, "subtract_mean"):
            raise ParameterError("subtract_mean needs a pairs file (it uses the training folds)", "subtract_mean")
    if kind == "open-set":
        holdout = raw.get("holdout") or []
        if isinstance(holdout, str):
            holdout = [h.strip() for h in holdout.replace("\n", ",").split(",") if h.strip()]
        if not isinstance(holdout, list) or not all(isinstance(h, (str, int)) for h in holdout):
            raise ParameterError("holdout must be a list of identity labels", "holdout")
        p["holdout"] = [str(h) for h in holdout]
        p["holdout_fraction"] = _float(raw, "holdout_fraction", 0.25, 0.01, 0.9)
        p["gallery_photos"] = _int(raw, "gallery_photos", 5, 1, 100)
        p["max_probes_per_identity"] = _int(raw, "max_probes_per_identity", 4, 1, 1000)
        p["enrolled"] = _int(raw, "enrolled", None, 1, 1_000_000)
        p["strangers"] = _int(raw, "strangers", None, 1, 1_000_000)
        if p["holdout"] and p["strangers"]:
            raise ParameterError("name the held-out identities or how many strangers to draw, not both", "strangers")
        p["target_fpir"] = _float(raw, "target_fpir", settings.FACEREC_TARGET_FPIR, 1e-6, 0.5)
    return p


# --------------------------------------------------------------------------- running


def _stage(progress: Progress, start: float, end: float) -> Progress:
    """A progress callback for one stage, mapped onto [start, end] of the whole report."""
    return lambda fraction, message: progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)


def _classifier_factory():
    from recognition.pipeline.classifier import FaceClassifier

    return FaceClassifier(min_samples_per_class=settings.FACEREC_MIN_PHOTOS_PER_IDENTITY)


def _scorer():
    """The serving weights' score calibration: reports measure the scores identify and verify threshold."""
    from recognition.selectors import scorer

    return scorer(_serving_versions()[0])


def _serving_versions() -> tuple[str, int | None]:
    from recognition.runtime import get_embedder
    from recognition.selectors import current_classifier

    model_version = get_embedder().model_info.version
    classifier = current_classifier(model_version)
    return model_version, classifier.pk if classifier is not None else None


def run_report(kind: str, parameters: dict, out_dir: Path, progress: Progress | None = None) -> ReportOutput:
    """Run one report kind on cleaned `parameters`, writing plots into `out_dir`."""
    progress = progress or (lambda fraction, message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_version, classifier_version = _serving_versions()
    progress(0.0, "loading data")
    if kind == "benchmark" and parameters.get("pairs"):
        output = _pairs_benchmark(parameters, out_dir, progress)
    elif kind == "open-set":
        output = _open_set(parameters, out_dir, progress)
    else:
        data, skipped, excluded, liveness = _load(parameters, _stage(progress, 0.0, 0.7))
        output = _closed_set(data, parameters, out_dir, _stage(progress, 0.7, 1.0))
        output.liveness_scores = liveness
        if excluded:
            output.metrics["identification"]["excluded_identities"] += [
                {"identity": k, "photos": v} for k, v in sorted(excluded.items())]
        output.skipped = skipped
    output.model_version, output.classifier_version = model_version, classifier_version
    output.metrics.setdefault("recommended", {})
    output.metrics["liveness"] = liveness_section(output.liveness_scores, parameters.get("source"))
    output.metrics["data"] = {**output.metrics.get("data", {}), "source": parameters.get("source"),
                              "folder": parameters.get("folder"), "skipped_images": len(output.skipped)}
    _mark_applicability(kind, parameters, output)
    progress(1.0, "done")
    return output


def liveness_section(scores: list[float | None] | None, source: str | None) -> dict | None:
    """Bona fide acceptance of the liveness check: every photo of a data set is a real face photographed
    once (no presentation attack), so each one it refuses is a bona fide rejection."""
    from recognition.runtime import get_liveness_checker

    scores = np.array([s for s in (scores or []) if s is not None], dtype=float)
    if not scores.size:
        return None
    threshold = get_liveness_checker().threshold
    return {"photos": int(scores.size), "threshold": threshold,
            "bona_fide_accepted": float(np.mean(scores >= threshold)),
            "score_p1": float(np.percentile(scores, 1)), "score_median": float(np.median(scores)),
            "scored_at": "enrollment processing" if source == "enrolled" else "this report"}


def _load(parameters: dict, progress: Progress
          ) -> tuple[LabelledEmbeddings, dict[str, str], dict[str, int], list[float | None]]:
    """The report's data, skipped images, identities left out, and the liveness score of its photos."""
    if parameters["source"] == "enrolled":
        model_version, _ = _serving_versions()
        data = enrolled_dataset(model_version)
        if len(set(data.labels.tolist())) < 2:
            raise ParameterError("need at least two identities with approved photos to evaluate", "source")
        progress(1.0, f"{len(data)} approved templates loaded")
        return data, {}, {}, enrolled_liveness_scores()
    folder = resolve_folder(parameters["folder"])
    # Identification needs min_photos per identity; fewer-photo identities are listed, not embedded.
    listing = list_folder(folder, min_photos=parameters["min_photos"],
                          max_identities=parameters.get("max_identities"),
                          max_photos_per_identity=parameters.get("max_photos_per_identity"))
    data, skipped, liveness = folder_dataset(folder, listing, tta=parameters.get("tta", False), progress=progress)
    if len(set(data.labels.tolist())) < 2:
        raise ParameterError("fewer than two identities had a usable face", "folder")
    return data, skipped, listing.excluded, liveness


def _verification_section(data: LabelledEmbeddings, parameters: dict, progress: Progress) -> tuple[dict, dict]:
    progress(0.0, "building verification pairs")
    projected = LabelledEmbeddings(_scorer().project(data.embeddings), data.labels, data.items, data.attributes)
    index_a, index_b, scores, same = protocols.all_pairs(
        projected, max_impostor_pairs=parameters["max_impostor_pairs"], seed=parameters["seed"])
    result = protocols.verification(scores, same, target_far=parameters["target_far"], seed=parameters["seed"])
    threshold = result.metrics["recommended"]["threshold"]
    breakdown = protocols.breakdown_by_attribute(data, index_a, index_b, scores, same, threshold=threshold,
                                                 target_far=parameters["target_far"])
    if breakdown:
        result.metrics["by_attribute"] = breakdown
    return result.metrics, result.arrays


def _closed_set(data: LabelledEmbeddings, parameters: dict, out_dir: Path, progress: Progress) -> ReportOutput:
    verification, arrays = _verification_section(data, parameters, _stage(progress, 0.0, 0.3))
    identification = protocols.kfold_identification(
        data, k=parameters["folds"], min_photos=parameters["min_photos"], classifier_factory=_classifier_factory,
        scorer=_scorer(), seed=parameters["seed"], progress=_stage(progress, 0.3, 0.9))
    progress(0.9, "drawing plots")
    files = _verification_plots(out_dir, verification, arrays)
    files["cmc"] = plots.cmc_plot(
        [plots.Curve(method.replace("_", " "), np.arange(1, len(v["cmc"]) + 1), np.array(v["cmc"]))
         for method, v in identification.metrics["methods"].items()],
        out_dir / "cmc.png", title=PLOT_TITLES["cmc"]).name
    metrics = {"data": {"identities": len(set(data.labels.tolist())), "photos": len(data)},
               "verification": verification, "identification": identification.metrics,
               "recommended": {"verify": _verify_recommendation(verification)}}
    return ReportOutput(metrics=metrics, plots=files)


def _verify_recommendation(verification: dict) -> dict:
    rec = verification["recommended"]
    return {"threshold": rec["threshold"], "target_far": rec["target_far"], "far": rec["far"], "tar": rec["tar"],
            "resolvable": rec["resolvable"], "eer_threshold": rec["eer_threshold"], "score": SCORE_NAMES["verify"]}


def _verification_plots(out_dir: Path, verification: dict, arrays: dict) -> dict[str, str]:
    far, tar = arrays["far"], arrays["tar"]
    rec = verification["recommended"]
    thresholds = {f"FAR {rec['target_far']:g}": rec["threshold"], "EER": verification["eer_threshold"]}
    thresholds = {k: v for k, v in thresholds.items() if v is not None}
    return {
        "roc": plots.roc_plot([plots.Curve("", far, tar)], out_dir / "roc.png", title=PLOT_TITLES["roc"]).name,
        "det": plots.det_plot([plots.Curve("", far, 1.0 - tar)], out_dir / "det.png", title=PLOT_TITLES["det"]).name,
        "scores": plots.score_distribution_plot(arrays["genuine"], arrays["impostor"], out_dir / "scores.png",
                                                thresholds=thresholds, title=PLOT_TITLES["scores"]).name,
    }


def _pairs_benchmark(parameters: dict, out_dir: Path, progress: Progress) -> ReportOutput:
    """LFW-style: a pairs file with folds; accuracy by the folds' own thresholds."""
    from evaluation import metrics as m
    from evaluation.datasets import embed_paths
    from recognition.pipeline.lfw import read_pairs, unique_images

    folder = resolve_folder(parameters["folder"])
    try:
        pairs = read_pairs(folder / parameters["pairs"], folder, check_exists=True)
    except (OSError, ValueError) as exc:
        raise ParameterError(str(exc), "pairs") from None
    if parameters.get("pairs_per_fold"):
        pairs = _first_pairs_per_fold(pairs, parameters["pairs_per_fold"])
    images = unique_images(pairs)
    tta = parameters.get("tta", False)
    # MTCNN misses a face now and then (1 of LFW's 7,701); LFW photos are centred on
    # the labelled face, so a centre crop stands in, as the published protocol does.
    result = embed_paths(images, tta=tta, centre_crop_when_no_face=True, progress=_stage(progress, 0.0, 0.85),
                         liveness=True)
    embedding_of = dict(zip(result.paths, result.embeddings))
    fallbacks, unreadable = result.centre_crops, result.skipped
    usable = [p for p in pairs if str(p.path_a) in embedding_of and str(p.path_b) in embedding_of]
    progress(0.85, "scoring pairs")
    emb_a = np.stack([embedding_of[str(p.path_a)] for p in usable])
    emb_b = np.stack([embedding_of[str(p.path_b)] for p in usable])
    same = np.array([p.same for p in usable])
    folds = np.array([p.fold for p in usable])
    projected = _scorer().project(np.concatenate([emb_a, emb_b]))
    scores = m.cosine_similarity_pairs(projected[: len(emb_a)], projected[len(emb_a):])
    verification = protocols.verification(scores, same, folds=folds if np.unique(folds).size > 1 else None,
                                          target_far=parameters["target_far"], seed=parameters["seed"])
    v = verification.metrics
    if np.unique(folds).size > 1:
        kfold = m.lfw_protocol(emb_a, emb_b, same, folds, distance="cosine",
                               subtract_mean=parameters.get("subtract_mean", False))
        v["accuracy"] = protocols.finite({"mean": kfold.mean, "std": kfold.std, "folds": len(kfold.folds),
                                          "fold_accuracies": kfold.accuracies.tolist(),
                                          "protocol": "threshold chosen on the other folds"
                                          + (", mean of training folds subtracted"
                                             if parameters.get("subtract_mean") else "")})
    progress(0.9, "drawing plots")
    files = _verification_plots(out_dir, v, verification.arrays)
    rel = lambda p: str(Path(p).relative_to(folder)) if Path(p).is_relative_to(folder) else str(p)  # noqa: E731
    skipped = {rel(p): r for p, r in unreadable.items()}
    skipped.update({rel(p): "no_face (centre crop used)" for p in fallbacks})
    metrics = {"data": {"pairs": len(usable), "pairs_left_out": len(pairs) - len(usable), "images": len(images),
                        "no_face_fallbacks": len(fallbacks), "pairs_file": parameters["pairs"]},
               "verification": v, "recommended": {"verify": _verify_recommendation(v)}}
    return ReportOutput(metrics=metrics, plots=files, skipped=skipped, liveness_scores=result.liveness)


def _first_pairs_per_fold(pairs, n: int):
    kept, seen = [], {}
    for pair in pairs:
        key = (pair.fold, pair.same)
        if seen.get(key, 0) < n:
            kept.append(pair)
            seen[key] = seen.get(key, 0) + 1
    return kept


def _open_set(parameters: dict, out_dir: Path, progress: Progress) -> ReportOutput:
    """Enroll a seeded split, identify its probes and strangers as identify would, measure."""
    from recognition.models import RecognitionThreshold
    from recognition.selectors import current_threshold

    split = {name: parameters[name] for name in ("gallery_photos", "max_probes_per_identity", "enrolled",
                                                 "strangers", "holdout", "holdout_fraction", "seed")}
    skipped: dict[str, str] = {}
    try:
        if parameters["source"] == "enrolled":
            data, _, _, liveness = _load(parameters, _stage(progress, 0.0, 0.1))
            roles = protocols.open_set_split(data.labels, **split)
        else:
            folder = resolve_folder(parameters["folder"])
            listing = list_folder(folder, min_photos=parameters["min_photos"],
                                  max_identities=parameters.get("max_identities"),
                                  max_photos_per_identity=parameters.get("max_photos_per_identity"))
            listed = protocols.open_set_split([identity for identity, _ in listing.files], **split)
            # Only the photos the split uses are embedded: an LFW split of 100 people takes minutes, not an hour.
            used = [(file, role) for file, role in zip(listing.files, listed) if role]
            role_of = {str(Path(path).relative_to(folder)): role for (_, path), role in used}
            data, skipped, liveness = folder_dataset(folder, FolderListing([file for file, _ in used]),
                                                     tta=parameters.get("tta", False),
                                                     progress=_stage(progress, 0.0, 0.7))
            roles = np.array([role_of[item] for item in data.items])
    except (ValueError, DatasetError) as exc:
        field = "holdout" if parameters["holdout"] else ("strangers" if "stranger" in str(exc) else "enrolled")
        raise ParameterError(str(exc), field) from None
    progress(0.7, f"{len(set(data.labels[roles == protocols.STRANGER].tolist()))} identities held out as strangers")
    model_version, _ = _serving_versions()
    in_force = {kind: current_threshold(kind, model_version=model_version)
                for kind in (RecognitionThreshold.Kind.IDENTIFY, RecognitionThreshold.Kind.VERIFY)}
    try:
        result = protocols.open_set_identification(
            data, roles=roles, scorer=_scorer(), classifier_factory=_classifier_factory,
            identify_threshold=in_force[RecognitionThreshold.Kind.IDENTIFY].value,
            verify_threshold=in_force[RecognitionThreshold.Kind.VERIFY].value,
            target_fpir=parameters["target_fpir"], target_far=parameters["target_far"], seed=parameters["seed"])
    except ValueError as exc:
        raise ParameterError(str(exc), "holdout") from None
    sections = [(RecognitionThreshold.Kind.IDENTIFY, method) for method in result.metrics["methods"].values()]
    sections.append((RecognitionThreshold.Kind.VERIFY, result.metrics["verify_identity"]))
    for kind, section in sections:  # each figure at the threshold in force says where it came from
        if "at_threshold" in section:
            section["at_threshold"]["source"] = in_force[kind].source
    progress(0.8, "drawing plots")
    a = result.arrays
    serving = str(a["serving_method"][0])
    rec = result.metrics["recommended"]
    files = {
        "dir_fpir": plots.dir_fpir_plot(
            [plots.Curve(method.replace("_", " "), a[f"fpir_{method}"], a[f"dir_{method}"])
             for method in result.metrics["methods"]], out_dir / "dir_fpir.png", title=PLOT_TITLES["dir_fpir"]).name,
        # Faces the classifier vetoed have no score of their own to draw.
        "open_set_scores": plots.score_distribution_plot(
            a[f"mated_{serving}"][a[f"mated_{serving}"] > VETOED],
            a[f"nonmated_{serving}"][a[f"nonmated_{serving}"] > VETOED], out_dir / "open_set_scores.png",
            thresholds={f"FPIR {rec['target_fpir']:g}": rec["threshold"]} if rec["threshold"] is not None else {},
            title=PLOT_TITLES["open_set_scores"], xlabel="score of the first candidate",
            labels=("mated (enrolled)", "non-mated (strangers)")).name,
    }
    verify = result.metrics["verify_identity"]
    metrics = {"data": {"identities": len(set(data.labels.tolist())), "photos": len(data)},
               "open_set": result.metrics,
               "recommended": {"identify": {**rec, "score": SCORE_NAMES["identify"]},
                               "verify": {**_verify_recommendation(verify), "mode": "identity"}}}
    return ReportOutput(metrics=metrics, plots=files, skipped=skipped, liveness_scores=liveness)


def _mark_applicability(kind: str, parameters: dict, output: ReportOutput) -> None:
    """A recommendation can become the platform's threshold only when it measured the same score."""
    for name, rec in output.metrics["recommended"].items():
        reasons = []
        if rec.get("threshold") is None:
            reasons.append("no finite threshold reaches the target rate")
        if parameters.get("tta"):
            reasons.append("measured with flip TTA, which verify and identify do not use")
        # With subtract_mean only the k-fold accuracy uses mean-subtracted scores; the
        # recommended threshold is on plain cosine similarity, so it stays applicable.
        rec["applicable"] = not reasons
        rec["not_applicable_because"] = "; ".join(reasons)


# --------------------------------------------------------------------------- exports


def flatten_metrics(metrics: dict) -> list[tuple[str, str]]:
    """(dotted name, value) rows of every scalar figure; curves (lists of numbers) are left out."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    walk(f"{prefix}[{i}]", v)
            elif len(value) <= 20 and not all(isinstance(v, (int, float)) for v in value):
                rows.append((prefix, ", ".join(str(v) for v in value)))
            elif len(value) <= 10:
                rows.append((prefix, ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in value)))
        else:
            rows.append((prefix, "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)))

    walk("", metrics)
    return rows


def metrics_csv(metrics: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["metric", "value"])
    writer.writerows(flatten_metrics(metrics))
    return buffer.getvalue()


def report_document(*, kind: str, parameters: dict, output: ReportOutput) -> dict:
    return {"kind": kind, "parameters": parameters, "model_version": output.model_version,
            "classifier_version": output.classifier_version, "metrics": output.metrics, "plots": output.plots,
            "skipped": output.skipped}


def write_exports(out_dir: Path, document: dict) -> None:
    (out_dir / "report.json").write_text(json.dumps(document, indent=2))
    (out_dir / "metrics.csv").write_text(metrics_csv(document["metrics"]))
