"""What every report kind shares: its output, the serving models it measures, its data, its progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from evaluation import plots
from evaluation.datasets import enrolled_dataset, enrolled_liveness_scores, folder_dataset, list_folder, resolve_folder
from evaluation.protocols import LabelledEmbeddings
from evaluation.reports.parameters import ParameterError
from recognition.pipeline.classifier import FaceClassifier
from recognition.pipeline.open_set import Scorer
from recognition.runtime import get_embedder
from recognition.selectors import current_classifier
from recognition.selectors import scorer as scorer_of

Progress = Callable[[float, str], None]

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


@dataclass
class ReportOutput:
    metrics: dict
    plots: dict[str, str]  # plot name -> file name inside the output folder
    skipped: dict[str, str] = field(default_factory=dict)
    model_version: str = ""
    classifier_version: int | None = None
    liveness_scores: list[float | None] | None = None  # of the photos used, for the bona fide acceptance


def stage(progress: Progress, start: float, end: float) -> Progress:
    """A progress callback for one stage, mapped onto [start, end] of the whole report."""
    return lambda fraction, message: progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)


def classifier_factory() -> FaceClassifier:
    return FaceClassifier(min_samples_per_class=settings.FACEREC_MIN_PHOTOS_PER_IDENTITY)


def scorer() -> Scorer:
    """The serving weights' score calibration: reports measure the scores identify and verify threshold."""
    return scorer_of(serving_versions()[0])


def serving_versions() -> tuple[str, int | None]:
    model_version = get_embedder().model_info.version
    classifier = current_classifier(model_version)
    return model_version, classifier.pk if classifier is not None else None


def load_data(parameters: dict, progress: Progress
              ) -> tuple[LabelledEmbeddings, dict[str, str], dict[str, int], list[float | None]]:
    """The report's data, skipped images, identities left out, and the liveness score of its photos."""
    if parameters["source"] == "enrolled":
        model_version, _ = serving_versions()
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


def verify_recommendation(verification: dict) -> dict:
    rec = verification["recommended"]
    return {"threshold": rec["threshold"], "target_far": rec["target_far"], "far": rec["far"], "tar": rec["tar"],
            "resolvable": rec["resolvable"], "eer_threshold": rec["eer_threshold"], "score": SCORE_NAMES["verify"]}


def verification_plots(out_dir: Path, verification: dict, arrays: dict) -> dict[str, str]:
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
