"""evaluate_lfw: the LFW View 2 verification protocol (10 folds, threshold from the other 9)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from evaluation import metrics
from evaluation.protocols import finite
from recognition.management.progress import progress_bar, skipped_summary
from recognition.pipeline.faces import embed_files
from recognition.pipeline.lfw import read_pairs, unique_images
from recognition.runtime import get_pipeline, read_image_file

FAR_TARGETS = (1e-2, 1e-3)


class Command(BaseCommand):
    help = "Evaluate verification on LFW pairs: mean accuracy +- std over folds, AUC, EER, TAR@FAR."

    def add_arguments(self, parser):
        parser.add_argument("--lfw-dir", required=True, type=Path, help="LFW folder (or its lfw-deepfunneled/)")
        parser.add_argument("--pairs", required=True, type=Path, help="pairs.txt (View 2, 10 folds) or pairsDevTest.txt (View 1: one fold, accuracy not cross-validated)")
        parser.add_argument("--tta", action="store_true", help="horizontal-flip test-time augmentation")
        parser.add_argument("--subtract-mean", action="store_true",
                            help="cosine distance after subtracting the training folds' mean embedding "
                                 "(the protocol published for these weights)")
        parser.add_argument("--distance", choices=["euclidean", "cosine"], default=None,
                            help="default: euclidean, or cosine with --subtract-mean")
        parser.add_argument("--json", dest="json_out", type=Path, help="also write the figures to this JSON file")

    def handle(self, *args, lfw_dir: Path, pairs: Path, tta: bool, subtract_mean: bool, distance: str | None,
               json_out: Path | None, **options):
        distance = distance or ("cosine" if subtract_mean else "euclidean")
        try:
            pair_list = read_pairs(pairs, lfw_dir, check_exists=True)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc))
        if subtract_mean and len({p.fold for p in pair_list}) < 2:
            raise CommandError(f"--subtract-mean needs a pairs file of several folds (View 2's pairs.txt): the mean "
                               f"comes from the folds not being tested, and {pairs.name} has one")
        images = [str(p) for p in unique_images(pair_list)]
        pipeline = get_pipeline()
        with progress_bar(len(images), "embedding", self.stderr) as bar:
            result = embed_files(pipeline, images, read_image_file, select="center", tta=tta,
                                 centre_crop_when_no_face=True, progress=bar.update)
        embedding_of = dict(zip(result.paths, result.embeddings))
        fallbacks = result.centre_crops
        unusable = result.skipped
        if unusable:
            raise CommandError("some pair images cannot be read:\n" + "\n".join(skipped_summary(unusable)))

        emb_a = np.stack([embedding_of[str(p.path_a)] for p in pair_list])
        emb_b = np.stack([embedding_of[str(p.path_b)] for p in pair_list])
        labels = np.array([p.same for p in pair_list])
        folds = np.array([p.fold for p in pair_list])
        figures = self._figures(emb_a, emb_b, labels, folds, distance, subtract_mean)
        figures.update(pairs=len(pair_list), images=len(images), no_face_fallbacks=len(fallbacks),
                       tta=tta, subtract_mean=subtract_mean, distance=distance,
                       model=pipeline.embedder.model_info.version, backend=pipeline.embedder.backend)
        self._print(figures, fallbacks)
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(finite(figures), indent=2))

    @staticmethod
    def _figures(emb_a, emb_b, labels, folds, distance, subtract_mean) -> dict:
        # Threshold-free figures use the plain scores of all pairs.
        scores = (metrics.cosine_similarity_pairs(emb_a, emb_b) if distance == "cosine"
                  else -metrics.euclidean_distance_pairs(metrics.l2_normalize(emb_a), metrics.l2_normalize(emb_b)))
        if len(set(folds.tolist())) > 1:
            kfold = metrics.lfw_protocol(emb_a, emb_b, labels, folds, distance=distance, subtract_mean=subtract_mean)
            accuracy = {"accuracy": kfold.mean, "accuracy_std": kfold.std, "fold_accuracies": kfold.accuracies.tolist(),
                        "folds": len(kfold.folds), "cross_validated": True}
        else:  # View 1's pairsDevTest.txt: no other fold to choose the threshold on
            best, _ = metrics.best_threshold_accuracy(scores, labels)
            accuracy = {"accuracy": best, "accuracy_std": None, "fold_accuracies": [best], "folds": 1,
                        "cross_validated": False}
        eer, eer_threshold = metrics.eer(scores, labels)
        tars = metrics.tar_at_far(scores, labels, FAR_TARGETS)
        return {
            **accuracy, "auc": metrics.auc(scores, labels), "eer": eer,
            "eer_threshold": eer_threshold,
            "tar_at_far": {f"{far:g}": {"tar": t.tar, "threshold": t.threshold, "resolvable": t.resolvable}
                           for far, t in tars.items()},
        }

    def _print(self, f: dict, fallbacks: list[str]) -> None:
        self.stdout.write(f"pairs {f['pairs']} ({f['folds']} folds), images {f['images']}, "
                          f"no face found (centre crop used): {f['no_face_fallbacks']}")
        for path in fallbacks[:10]:
            self.stdout.write(f"  no face: {path}")
        self.stdout.write(f"model {f['model']} ({f['backend']}), distance {f['distance']}, "
                          f"tta={f['tta']}, subtract_mean={f['subtract_mean']}")
        if f["cross_validated"]:
            self.stdout.write(f"accuracy: {100 * f['accuracy']:.2f}% +- {100 * f['accuracy_std']:.2f}")
        else:
            self.stdout.write(f"accuracy: {100 * f['accuracy']:.2f}% at the best threshold for these pairs "
                              "(one fold: not cross-validated, an upper bound; use pairs.txt for the protocol)")
        self.stdout.write(f"ROC AUC: {f['auc']:.4f}   EER: {100 * f['eer']:.2f}%")
        for far, t in f["tar_at_far"].items():
            note = "" if t["resolvable"] else " (below what the impostor pairs can resolve)"
            self.stdout.write(f"TAR @ FAR {far}: {100 * t['tar']:.2f}%{note}")
        self.stdout.write(f"accuracy={f['accuracy']:.4f}")
