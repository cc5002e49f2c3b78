"""Run one report kind on cleaned parameters: the shared frame around the kinds (models measured,
liveness, whether a recommendation can be applied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.models import EvaluationReport
from evaluation.reports import kinds
from evaluation.reports.common import Progress, ReportOutput, load_data, serving_versions, stage
from recognition.runtime import get_liveness_checker


def run_report(kind: str, parameters: dict, out_dir: Path, progress: Progress | None = None) -> ReportOutput:
    """Run one report kind on cleaned `parameters`, writing plots into `out_dir`."""
    progress = progress or (lambda fraction, message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_version, classifier_version = serving_versions()
    progress(0.0, "loading data")
    if kind == EvaluationReport.Kind.BENCHMARK and parameters.get("pairs"):
        output = kinds.pairs_benchmark(parameters, out_dir, progress)
    elif kind == EvaluationReport.Kind.OPEN_SET:
        output = kinds.open_set(parameters, out_dir, progress)
    else:
        data, skipped, excluded, liveness = load_data(parameters, stage(progress, 0.0, 0.7))
        output = kinds.closed_set(data, parameters, out_dir, stage(progress, 0.7, 1.0))
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
    mark_applicability(kind, parameters, output)
    progress(1.0, "done")
    return output


def liveness_section(scores: list[float | None] | None, source: str | None) -> dict | None:
    """Bona fide acceptance of the liveness check: every photo of a data set is a real face photographed
    once (no presentation attack), so each one it refuses is a bona fide rejection."""
    scores = np.array([s for s in (scores or []) if s is not None], dtype=float)
    if not scores.size:
        return None
    threshold = get_liveness_checker().threshold
    return {"photos": int(scores.size), "threshold": threshold,
            "bona_fide_accepted": float(np.mean(scores >= threshold)),
            "score_p1": float(np.percentile(scores, 1)), "score_median": float(np.median(scores)),
            "scored_at": "enrollment processing" if source == "enrolled" else "this report"}


def mark_applicability(kind: str, parameters: dict, output: ReportOutput) -> None:
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
