"""Classifier training: retrain requests coalesce into one waiting version (debounced), which becomes
current atomically once trained."""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from core.tasks import send_task
from identities.models import Identity
from recognition import selectors
from recognition.models import ClassifierVersion
from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities
from recognition.services.artifacts import artifact_dir, delete_superseded_artifacts
from recognition.tasks import retrain_classifier as retrain_classifier_task

log = logging.getLogger(__name__)


def request_retrain(*, urgent: bool = False) -> None:
    """Ask for a classifier retrain, after the current transaction commits.

    Requests coalesce into the one waiting retrain, which runs once they have paused
    for FACEREC_RETRAIN_DELAY_S (at the latest FACEREC_RETRAIN_MAX_WAIT_S after the
    first): a bulk enrollment trains once, not once per approval. `urgent` (an
    erasure) trains at once and from scratch, so no model keeps what was erased.
    """
    transaction.on_commit(lambda: _enqueue_retrain(model_version="", urgent=urgent))


def request_retrain_now(model_version: str | None = None) -> ClassifierVersion | None:
    """Queue a retrain now (outside a request), for the serving model or `model_version`."""
    return _enqueue_retrain(model_version=model_version or "", urgent=True)


def _enqueue_retrain(*, model_version: str, urgent: bool) -> ClassifierVersion | None:
    now = timezone.now()
    try:
        with transaction.atomic():
            version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING,
                                                       model_version=model_version, last_requested_at=now,
                                                       urgent=urgent)
        created = True
    except IntegrityError:
        # One is waiting already: it will see these changes too; push its quiet period back.
        version = ClassifierVersion.objects.filter(status=ClassifierVersion.Status.PENDING).first()
        if version is None:  # it started training in between: ask again
            return _enqueue_retrain(model_version=model_version, urgent=urgent)
        updates = {"last_requested_at": now}
        if urgent:
            updates["urgent"] = True
        ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING).update(**updates)
        created = False
        # A waiting row whose task was lost (broker restart) would swallow every request: re-send it.
        lost = version.requested_at < now - timedelta(seconds=2 * settings.FACEREC_RETRAIN_MAX_WAIT_S + 60)
        if not (urgent or lost):
            return version
    if not send_task(retrain_classifier_task, [version.pk],
                     countdown=0 if urgent else settings.FACEREC_RETRAIN_DELAY_S):
        # Broker unreachable: drop the waiting row, or every later request would
        # coalesce into a retrain that never runs; the next approval asks again.
        if created:
            ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING).delete()
        return None
    return version


def _defer(version: ClassifierVersion) -> bool:
    """Still inside the quiet period: send the task again for when it ends (one sender per deferral)."""
    if version.urgent:
        return False
    now = timezone.now()
    quiet_until = (version.last_requested_at or version.requested_at) + timedelta(
        seconds=settings.FACEREC_RETRAIN_DELAY_S)
    deadline = version.requested_at + timedelta(seconds=settings.FACEREC_RETRAIN_MAX_WAIT_S)
    wait_s = (min(quiet_until, deadline) - now).total_seconds()
    if wait_s <= 0.5:
        return False
    if ClassifierVersion.objects.filter(pk=version.pk, status=ClassifierVersion.Status.PENDING,
                                        deferrals=version.deferrals).update(deferrals=version.deferrals + 1):
        retrain_classifier_task.apply_async(args=[version.pk], countdown=wait_s)
    return True


def retrain(version_id: int) -> ClassifierVersion | None:
    """Train on the active templates; the version becomes current only when training finished.

    Incremental when the current classifier of the model version can be reused (only the
    identities whose templates changed are refitted), from scratch after an erasure.
    Superseded artifacts are deleted once the new version is current.
    """
    version = ClassifierVersion.objects.filter(pk=version_id, status=ClassifierVersion.Status.PENDING).first()
    if version is None or _defer(version):
        return None
    claimed = ClassifierVersion.objects.filter(pk=version_id, status=ClassifierVersion.Status.PENDING).update(
        status=ClassifierVersion.Status.TRAINING, started_at=timezone.now())
    if not claimed:
        return None
    version = ClassifierVersion.objects.get(pk=version_id)
    model_version = version.model_version or selectors.current_model_version()
    started = time.monotonic()
    out_dir = artifact_dir(version)
    n_rows = 0
    try:
        keys, labels, X = selectors.training_templates(model_version)
        n_rows = len(keys)
        previous = None if version.urgent else _reusable_classifier(model_version)
        model = FaceClassifier(min_samples_per_class=settings.FACEREC_MIN_PHOTOS_PER_IDENTITY)
        model.fit(X, labels, keys=keys, model_version=model_version, previous=previous)
        # Someone erased while this trained (the scrub found no artifact to clean yet) leaves with it.
        erased = Identity.objects.filter(status=Identity.Status.ERASED, updated_at__gte=version.started_at)
        model.without_labels([str(pk) for pk in erased.values_list("pk", flat=True)])
        model.save(out_dir)
    except NotEnoughIdentities as exc:
        return _finish(version, ClassifierVersion.Status.SKIPPED, model_version, error=str(exc), n_samples=n_rows)
    except Exception:
        shutil.rmtree(out_dir, ignore_errors=True)
        return _finish(version, ClassifierVersion.Status.FAILED, model_version, error=traceback.format_exc()[-2000:],
                       n_samples=n_rows)
    meta = model.metadata_
    return _finish(version, ClassifierVersion.Status.READY, model_version, artifact_dir=str(out_dir),
                   kernel=meta.kernel, n_identities=meta.n_classes, n_samples=meta.n_samples,
                   validation_accuracy=meta.validation_accuracy, training_seconds=time.monotonic() - started,
                   refitted=meta.refitted)


def _reusable_classifier(model_version: str) -> FaceClassifier | None:
    row = selectors.current_classifier(model_version)
    if row is None or row.status != ClassifierVersion.Status.READY or not row.artifact_dir:
        return None
    try:
        return selectors.loaded_classifier(row.artifact_dir)
    except Exception:  # an older format or a missing file: train from scratch
        log.info("classifier v%s not reusable; training from scratch", row.pk, exc_info=True)
        return None


@transaction.atomic
def _finish(version: ClassifierVersion, status: str, model_version: str, **fields) -> ClassifierVersion:
    """Switch `current` atomically: readers see the old version or the new one, never none."""
    version = ClassifierVersion.objects.select_for_update().get(pk=version.pk)
    version.status, version.model_version, version.finished_at = status, model_version, timezone.now()
    for name, value in fields.items():
        setattr(version, name, value)
    finished = status in (ClassifierVersion.Status.READY, ClassifierVersion.Status.SKIPPED)
    # A training that started before a newer one (say, the urgent retrain after an erasure)
    # but ends after it read older templates: it must not replace the newer version.
    stale = ClassifierVersion.objects.filter(
        model_version=model_version, pk__gt=version.pk,
        status__in=[ClassifierVersion.Status.READY, ClassifierVersion.Status.SKIPPED]).exists()
    if finished and not stale:
        # Current per model version; a SKIPPED version is current too: it tells
        # identification to use nearest neighbours alone.
        ClassifierVersion.objects.filter(current=True, model_version=model_version).update(current=False)
        version.current = True
    version.save()
    if finished:  # the files of whichever versions are not current go (a stale one's own too)
        transaction.on_commit(lambda: delete_superseded_artifacts(model_version))
    audit.record(action="classifier.retrain", target=version,
                 details={"status": status, "identities": version.n_identities, "samples": version.n_samples,
                          "validation_accuracy": version.validation_accuracy, "refitted": fields.get("refitted")})
    return version
