"""The three report kinds: closed set (enrolled data or a folder), a pairs-file benchmark, an open set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation import plots, protocols
from evaluation.datasets import DatasetError, FolderListing, embed_paths, folder_dataset, list_folder, resolve_folder
from evaluation.metrics import cosine_similarity_pairs, lfw_protocol
from evaluation.protocols import LabelledEmbeddings, SplitError
from evaluation.reports.common import (PLOT_TITLES, SCORE_NAMES, Progress, ReportOutput, classifier_factory,
                                       load_data, scorer, serving_versions, stage, verification_plots,
                                       verify_recommendation)
from evaluation.reports.parameters import ParameterError
from recognition.models import RecognitionThreshold
from recognition.pipeline.lfw import read_pairs, unique_images
from recognition.pipeline.open_set import VETOED
from recognition.selectors import current_threshold


def verification_section(data: LabelledEmbeddings, parameters: dict, progress: Progress) -> tuple[dict, dict]:
    progress(0.0, "building verification pairs")
    projected = LabelledEmbeddings(scorer().project(data.embeddings), data.labels, data.items, data.attributes)
    index_a, index_b, scores, same = protocols.all_pairs(
        projected, max_impostor_pairs=parameters["max_impostor_pairs"], seed=parameters["seed"])
    result = protocols.verification(scores, same, target_far=parameters["target_far"], seed=parameters["seed"])
    threshold = result.metrics["recommended"]["threshold"]
    breakdown = protocols.breakdown_by_attribute(data, index_a, index_b, scores, same, threshold=threshold,
                                                 target_far=parameters["target_far"])
    if breakdown:
        result.metrics["by_attribute"] = breakdown
    return result.metrics, result.arrays


def closed_set(data: LabelledEmbeddings, parameters: dict, out_dir: Path, progress: Progress) -> ReportOutput:
    verification, arrays = verification_section(data, parameters, stage(progress, 0.0, 0.3))
    identification = protocols.kfold_identification(
        data, k=parameters["folds"], min_photos=parameters["min_photos"], classifier_factory=classifier_factory,
        scorer=scorer(), seed=parameters["seed"], progress=stage(progress, 0.3, 0.9))
    progress(0.9, "drawing plots")
    files = verification_plots(out_dir, verification, arrays)
    files["cmc"] = plots.cmc_plot(
        [plots.Curve(method.replace("_", " "), np.arange(1, len(v["cmc"]) + 1), np.array(v["cmc"]))
         for method, v in identification.metrics["methods"].items()],
        out_dir / "cmc.png", title=PLOT_TITLES["cmc"]).name
    metrics = {"data": {"identities": len(set(data.labels.tolist())), "photos": len(data)},
               "verification": verification, "identification": identification.metrics,
               "recommended": {"verify": verify_recommendation(verification)}}
    return ReportOutput(metrics=metrics, plots=files)


def pairs_benchmark(parameters: dict, out_dir: Path, progress: Progress) -> ReportOutput:
    """LFW-style: a pairs file with folds; accuracy by the folds' own thresholds."""
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
    result = embed_paths(images, tta=tta, centre_crop_when_no_face=True, progress=stage(progress, 0.0, 0.85),
                         liveness=True)
    embedding_of = dict(zip(result.paths, result.embeddings))
    fallbacks, unreadable = result.centre_crops, result.skipped
    usable = [p for p in pairs if str(p.path_a) in embedding_of and str(p.path_b) in embedding_of]
    progress(0.85, "scoring pairs")
    emb_a = np.stack([embedding_of[str(p.path_a)] for p in usable])
    emb_b = np.stack([embedding_of[str(p.path_b)] for p in usable])
    same = np.array([p.same for p in usable])
    folds = np.array([p.fold for p in usable])
    projected = scorer().project(np.concatenate([emb_a, emb_b]))
    scores = cosine_similarity_pairs(projected[: len(emb_a)], projected[len(emb_a):])
    verification = protocols.verification(scores, same, folds=folds if np.unique(folds).size > 1 else None,
                                          target_far=parameters["target_far"], seed=parameters["seed"])
    v = verification.metrics
    if np.unique(folds).size > 1:
        kfold = lfw_protocol(emb_a, emb_b, same, folds, distance="cosine",
                             subtract_mean=parameters.get("subtract_mean", False))
        v["accuracy"] = protocols.finite({"mean": kfold.mean, "std": kfold.std, "folds": len(kfold.folds),
                                          "fold_accuracies": kfold.accuracies.tolist(),
                                          "protocol": "threshold chosen on the other folds"
                                          + (", mean of training folds subtracted"
                                             if parameters.get("subtract_mean") else "")})
    progress(0.9, "drawing plots")
    files = verification_plots(out_dir, v, verification.arrays)
    rel = lambda p: str(Path(p).relative_to(folder)) if Path(p).is_relative_to(folder) else str(p)  # noqa: E731
    skipped = {rel(p): r for p, r in unreadable.items()}
    skipped.update({rel(p): "no_face (centre crop used)" for p in fallbacks})
    metrics = {"data": {"pairs": len(usable), "pairs_left_out": len(pairs) - len(usable), "images": len(images),
                        "no_face_fallbacks": len(fallbacks), "pairs_file": parameters["pairs"]},
               "verification": v, "recommended": {"verify": verify_recommendation(v)}}
    return ReportOutput(metrics=metrics, plots=files, skipped=skipped, liveness_scores=result.liveness)


def _first_pairs_per_fold(pairs, n: int):
    kept, seen = [], {}
    for pair in pairs:
        key = (pair.fold, pair.same)
        if seen.get(key, 0) < n:
            kept.append(pair)
            seen[key] = seen.get(key, 0) + 1
    return kept


def open_set(parameters: dict, out_dir: Path, progress: Progress) -> ReportOutput:
    """Enroll a seeded split, identify its probes and strangers as identify would, measure."""
    split = {name: parameters[name] for name in ("gallery_photos", "max_probes_per_identity", "enrolled",
                                                 "strangers", "holdout", "holdout_fraction", "seed")}
    skipped: dict[str, str] = {}
    try:
        if parameters["source"] == "enrolled":
            data, _, _, liveness = load_data(parameters, stage(progress, 0.0, 0.1))
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
                                                     progress=stage(progress, 0.0, 0.7))
            roles = np.array([role_of[item] for item in data.items])
    except SplitError as exc:
        raise ParameterError(str(exc), exc.parameter) from None
    except DatasetError as exc:
        raise ParameterError(str(exc), "folder") from None
    progress(0.7, f"{len(set(data.labels[roles == protocols.STRANGER].tolist()))} identities held out as strangers")
    model_version, _ = serving_versions()
    in_force = {kind: current_threshold(kind, model_version=model_version)
                for kind in (RecognitionThreshold.Kind.IDENTIFY, RecognitionThreshold.Kind.VERIFY)}
    try:
        result = protocols.open_set_identification(
            data, roles=roles, scorer=scorer(), classifier_factory=classifier_factory,
            identify_threshold=in_force[RecognitionThreshold.Kind.IDENTIFY].value,
            verify_threshold=in_force[RecognitionThreshold.Kind.VERIFY].value,
            target_fpir=parameters["target_fpir"], target_far=parameters["target_far"], seed=parameters["seed"])
    except SplitError as exc:
        raise ParameterError(str(exc), exc.parameter) from None
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
                               "verify": {**verify_recommendation(verify), "mode": "identity"}}}
    return ReportOutput(metrics=metrics, plots=files, skipped=skipped, liveness_scores=liveness)
