"""train_classifier: fit the SVM identification classifier on an embeddings .npz."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities


class Command(BaseCommand):
    help = "Train the one-vs-rest linear SVM on build_embeddings output; writes weights.npy and classifier.json."

    def add_arguments(self, parser):
        parser.add_argument("--embeddings", required=True, type=Path, help=".npz from build_embeddings")
        parser.add_argument("--out-dir", required=True, type=Path)
        parser.add_argument("--C", type=float, default=0.03, help="SVM regularisation (larger: fits the templates more closely)")
        parser.add_argument("--min-samples", type=int, default=2, help="photos an identity needs to be trained")

    def handle(self, *args, embeddings: Path, out_dir: Path, C: float, min_samples: int, **options):
        try:
            data = np.load(embeddings, allow_pickle=False)
            X, labels = data["embeddings"], data["labels"]
            model_version = str(data["model_version"]) if "model_version" in data else None
        except FileNotFoundError:
            raise CommandError(f"{embeddings} does not exist")
        except (KeyError, ValueError, OSError) as exc:
            raise CommandError(f"{embeddings} is not an embeddings file from build_embeddings: {exc}")
        if not C > 0:
            raise CommandError("--C must be a positive number")
        try:
            model = FaceClassifier(C=C, min_samples_per_class=min_samples).fit(
                X, labels, model_version=model_version)
        except NotEnoughIdentities as exc:
            raise CommandError(str(exc))
        model.save(out_dir)
        meta = model.metadata_
        self.stdout.write(json.dumps({"kernel": meta.kernel, "identities": meta.n_classes, "samples": meta.n_samples,
                                      "validation_accuracy": meta.validation_accuracy,
                                      "dropped_identities": len(meta.dropped_labels),
                                      "temperature": meta.temperature, "training_seconds": meta.training_seconds}))
        self.stdout.write(f"saved to {out_dir}")
