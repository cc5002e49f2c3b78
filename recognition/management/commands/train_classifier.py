"""train_classifier: fit the SVM identification classifier on an embeddings .npz."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities


class Command(BaseCommand):
    help = "Train an SVM on build_embeddings output; writes classifier.joblib, label_encoder.joblib, classifier.json."

    def add_arguments(self, parser):
        parser.add_argument("--embeddings", required=True, type=Path, help=".npz from build_embeddings")
        parser.add_argument("--out-dir", required=True, type=Path)
        parser.add_argument("--kernel", choices=["auto", "linear", "rbf"], default="auto")
        parser.add_argument("--min-samples", type=int, default=2, help="photos an identity needs to be trained")

    def handle(self, *args, embeddings: Path, out_dir: Path, kernel: str, min_samples: int, **options):
        try:
            data = np.load(embeddings, allow_pickle=False)
            X, labels = data["embeddings"], data["labels"]
            model_version = str(data["model_version"]) if "model_version" in data else None
        except FileNotFoundError:
            raise CommandError(f"{embeddings} does not exist")
        except (KeyError, ValueError, OSError) as exc:
            raise CommandError(f"{embeddings} is not an embeddings file from build_embeddings: {exc}")
        try:
            model = FaceClassifier(kernel=kernel, min_samples_per_class=min_samples).fit(
                X, labels, model_version=model_version)
        except NotEnoughIdentities as exc:
            raise CommandError(str(exc))
        model.save(out_dir)
        meta = model.metadata_
        self.stdout.write(json.dumps({"kernel": meta.kernel, "identities": meta.n_classes, "samples": meta.n_samples,
                                      "validation_accuracy": meta.validation_accuracy,
                                      "dropped_identities": len(meta.dropped_labels)}))
        self.stdout.write(f"saved to {out_dir}")
