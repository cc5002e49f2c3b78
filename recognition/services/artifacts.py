"""Classifier artifact files: where a version's files go, deleting superseded ones, scrubbing an erased person."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from recognition.models import ClassifierVersion
from recognition.pipeline.classifier import FaceClassifier
from recognition.selectors import forget_loaded_classifiers


def artifact_dir(version: ClassifierVersion) -> Path:
    return Path(settings.FACEREC_CLASSIFIERS_DIR) / f"v{version.pk}"


def delete_superseded_artifacts(model_version: str) -> int:
    """Delete the files of every classifier of `model_version` but the current one: they hold
    weights learnt from templates that may since have been erased."""
    superseded = (ClassifierVersion.objects.filter(model_version=model_version, current=False)
                  .exclude(artifact_dir="").exclude(status=ClassifierVersion.Status.TRAINING))
    deleted = 0
    for row in superseded:
        shutil.rmtree(row.artifact_dir, ignore_errors=True)
        deleted += ClassifierVersion.objects.filter(pk=row.pk).update(artifact_dir="")
    forget_loaded_classifiers()
    return deleted


def scrub_identity_from_classifiers(identity_id: int) -> int:
    """Remove an erased identity's row (weights and label) from every stored classifier at once,
    before the urgent retrain replaces them: no artifact names it even if that retrain fails."""
    scrubbed = 0
    for row in ClassifierVersion.objects.exclude(artifact_dir=""):
        try:
            model = FaceClassifier.load(Path(row.artifact_dir))
        except Exception:
            # Unreadable (an older format): it cannot serve either, so it goes.
            shutil.rmtree(row.artifact_dir, ignore_errors=True)
            ClassifierVersion.objects.filter(pk=row.pk).update(artifact_dir="")
            continue
        if model.without_labels([str(identity_id)]):
            model.save_atomic(Path(row.artifact_dir))
            scrubbed += 1
    forget_loaded_classifiers()
    return scrubbed
