"""Classifier retraining: versions switch atomically, failures keep the previous one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from identities.models import Consent, EnrollmentImage, Identity
from recognition import selectors, services
from recognition.services import training
from recognition.models import ClassifierVersion, FaceEmbedding
from recognition.pipeline.classifier import FaceClassifier
from tests.photo_fixtures import synthetic_gallery

pytestmark = pytest.mark.django_db


def _retrain() -> ClassifierVersion:
    version = ClassifierVersion.objects.create(status="pending")
    return services.retrain(version.pk)


def test_a_new_version_becomes_current_only_when_training_finished():
    synthetic_gallery(3)
    first = _retrain()
    assert first.status == "ready" and first.current and first.n_identities == 3 and first.n_samples == 9
    assert first.validation_accuracy == 1.0

    synthetic_gallery(1, seed=1)
    second = _retrain()

    first.refresh_from_db()
    assert second.current and not first.current
    assert ClassifierVersion.objects.filter(current=True).count() == 1
    assert FaceClassifier.load(second.artifact_dir).classes_.size == 4


def test_a_failed_retrain_keeps_the_previous_version(monkeypatch):
    synthetic_gallery(2)
    good = _retrain()

    def broken_fit(self, *args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(FaceClassifier, "fit", broken_fit)
    failed = _retrain()

    good.refresh_from_db()
    assert failed.status == "failed" and "MemoryError" in failed.error and not failed.current
    assert good.current


def test_fewer_than_two_identities_falls_back_to_nearest_neighbours():
    synthetic_gallery(1)
    version = _retrain()
    assert version.status == "skipped" and version.current
    assert "at least 2 identities" in version.error


def test_retrain_requests_coalesce_while_one_is_pending():
    ClassifierVersion.objects.create(status="pending")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClassifierVersion.objects.create(status="pending")


def test_a_version_is_trained_once_even_if_the_task_runs_twice():
    synthetic_gallery(2)
    version = ClassifierVersion.objects.create(status="pending")
    assert services.retrain(version.pk) is not None
    assert services.retrain(version.pk) is None


def test_reembed_fills_templates_for_a_new_model_version(monkeypatch, tmp_path):
    """After a model change, approved photos get embeddings of the new version; old ones stay apart."""

    from tests.shared_data import LFW_IMAGES

    identity = Identity.objects.create(display_name="Colin Powell")
    consent = Consent.objects.create(identity=identity, given_by_name="x", purpose="test", wording_version="v1")
    for n in (1, 2):
        path = LFW_IMAGES / "Colin_Powell" / f"Colin_Powell_{n:04d}.jpg"
        image = EnrollmentImage(identity=identity, consent=consent, sha256=str(n), status="approved")
        image.file.save("x", ContentFile(path.read_bytes()), save=False)
        image.save()
        FaceEmbedding.objects.create(image=image, identity=identity, vector=np.ones(512) / np.sqrt(512),
                                     model_name="old", model_version="old-model", active=True)

    first = services.reembed_batch(batch_size=1)
    second = services.reembed_batch(batch_size=1)
    third = services.reembed_batch(batch_size=1)

    current = services.current_model_version()
    assert (first["embedded"], first["remaining"]) == (1, 1)
    assert (second["embedded"], second["remaining"]) == (1, 0)
    assert third["embedded"] == 0
    new = FaceEmbedding.objects.filter(model_version=current)
    assert new.count() == 2 and all(e.active for e in new)
    vectors = np.array([e.vector for e in new])
    assert float(vectors[0] @ vectors[1]) > 0.5  # two photos of one person, real embeddings
    assert FaceEmbedding.objects.filter(model_version="old-model").count() == 2


def test_a_model_change_switches_over_with_complete_templates_and_a_ready_classifier(settings, tmp_path,
                                                                                     admin_user):
    """Next weights fill their templates while the current ones serve; the switch has no gap."""
    import shutil

    from enrollment import services as enrollment
    from recognition.pipeline.images import load_image_file
    from recognition.runtime import get_embedder
    from tests.shared_data import LFW_IMAGES

    people = {}
    for person in ("George_W_Bush", "Colin_Powell"):
        identity = enrollment.create_identity(display_name=person)
        enrollment.record_consent(identity=identity, given_by_name=person, purpose="test", wording_version="v1")
        uploads = [enrollment.Upload(name=f"{n}.jpg", data=(LFW_IMAGES / person / f"{person}_{n:04d}.jpg").read_bytes())
                   for n in (1, 2, 3)]
        images = enrollment.enroll_photos(identity=identity, uploads=uploads)  # db test: no task is sent
        for image in images:
            enrollment.process_photo(image.pk)
        enrollment.approve_photos(image_ids=[i.pk for i in images], actor=admin_user)
        people[person] = identity
    serving = _retrain()
    assert serving.status == "ready"

    # "New" weights: the same network under another file, hence another model version.
    next_weights = tmp_path / "next-facenet.pt"
    shutil.copy(get_embedder().models_dir / "facenet-casia-webface.pt", next_weights)
    while services.reembed_batch(batch_size=4, weights=str(next_weights))["remaining"]:
        pass
    assert FaceEmbedding.objects.filter(model_version="next-facenet.pt", active=True).count() == 6
    upcoming = services.retrain(ClassifierVersion.objects.create(status="pending",
                                                                 model_version="next-facenet.pt").pk)
    serving.refresh_from_db()
    assert upcoming.current and serving.current  # each is current for its own model version

    probe = load_image_file(LFW_IMAGES / "Colin_Powell" / "Colin_Powell_0010.jpg")
    before = services.identify(image=probe)
    assert (before.model_version, before.classifier_version) == (serving.model_version, serving.pk)

    settings.FACEREC_WEIGHTS = str(next_weights)  # the switch (a restart in production)
    after = services.identify(image=probe)
    assert (after.model_version, after.classifier_version) == ("next-facenet.pt", upcoming.pk)
    identified = [f.identity_id for f in after.faces if f.identity_id is not None]
    assert identified == [people["Colin_Powell"].pk]  # bystanders in the photo stay unknown


def test_a_retrain_the_broker_refused_does_not_block_later_ones(monkeypatch, django_capture_on_commit_callbacks):
    from recognition.tasks import retrain_classifier

    def unreachable(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(retrain_classifier, "apply_async", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_retrain()

    assert not ClassifierVersion.objects.filter(status="pending").exists()  # nothing left to coalesce into


class SentTasks:
    def __init__(self, monkeypatch):
        from recognition.tasks import retrain_classifier

        self.calls = []
        monkeypatch.setattr(retrain_classifier, "apply_async",
                            lambda args, countdown=0, **kw: self.calls.append((args[0], countdown)))


def test_requests_coalesce_into_one_waiting_retrain(monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.FACEREC_RETRAIN_DELAY_S = 30
    sent = SentTasks(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_retrain()
    first = ClassifierVersion.objects.get(status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_retrain()
        services.request_retrain()

    assert ClassifierVersion.objects.filter(status="pending").count() == 1
    assert sent.calls == [(first.pk, 30)]  # one task, sent for when the quiet period ends
    assert ClassifierVersion.objects.get(pk=first.pk).last_requested_at > first.last_requested_at


def test_a_retrain_waits_until_requests_pause_but_not_past_the_deadline(monkeypatch, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.FACEREC_RETRAIN_DELAY_S, settings.FACEREC_RETRAIN_MAX_WAIT_S = 30, 600
    synthetic_gallery(2)
    sent = SentTasks(monkeypatch)
    now = timezone.now()
    version = ClassifierVersion.objects.create(status="pending", last_requested_at=now - timedelta(seconds=10))

    assert services.retrain(version.pk) is None  # an approval 10 s ago: 20 s of quiet still to come
    assert len(sent.calls) == 1 and sent.calls[0][0] == version.pk and 15 < sent.calls[0][1] <= 20
    assert ClassifierVersion.objects.get(pk=version.pk).status == "pending"

    ClassifierVersion.objects.filter(pk=version.pk).update(last_requested_at=now - timedelta(seconds=31))
    assert services.retrain(version.pk).status == "ready"

    # Approvals that never pause: trained anyway once the first request is FACEREC_RETRAIN_MAX_WAIT_S old.
    busy = ClassifierVersion.objects.create(status="pending", last_requested_at=now)
    ClassifierVersion.objects.filter(pk=busy.pk).update(requested_at=now - timedelta(seconds=601))
    assert services.retrain(busy.pk).status == "ready"
    assert len(sent.calls) == 1


def test_an_urgent_retrain_runs_at_once_and_from_scratch(settings, django_capture_on_commit_callbacks):
    synthetic_gallery(3)
    first = _retrain()
    artifact = first.artifact_dir
    settings.FACEREC_RETRAIN_DELAY_S = 30
    urgent = ClassifierVersion.objects.create(status="pending", urgent=True, last_requested_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        version = services.retrain(urgent.pk)
    assert version.status == "ready" and version.refitted == 3
    assert FaceClassifier.load(version.artifact_dir).metadata_.incremental is False
    first.refresh_from_db()
    assert first.artifact_dir == "" and not Path(artifact).exists()  # superseded: deleted


def test_an_unchanged_gallery_is_retrained_incrementally():
    people = synthetic_gallery(30, per_person=3)
    _retrain()
    image = EnrollmentImage.objects.filter(identity=people[0]).first()
    FaceEmbedding.objects.filter(image=image).update(active=False)  # one photo of one person withdrawn

    version = _retrain()

    assert version.status == "ready" and version.refitted == 1
    assert FaceClassifier.load(version.artifact_dir).metadata_.incremental is True


def test_identification_works_while_the_classifier_is_missing_or_behind(monkeypatch):
    """A person approved after the last training is still found (the classifier has no say then)."""
    people = synthetic_gallery(3)
    version = _retrain()
    late = synthetic_gallery(1, seed=7)[0]  # no retrain since
    gallery = services.current_gallery(services.current_model_version())
    assert gallery.classifier is not None and gallery.classifier_row.pk == version.pk
    vector = np.asarray(FaceEmbedding.objects.filter(identity=late).first().vector)

    candidates, decided_by, reason = services.identify_embedding(vector, gallery=gallery, top_k=3, threshold=0.3)
    assert candidates[0].identity_id == late.pk and reason is None
    assert decided_by == "score"  # the classifier does not know every candidate
    assert candidates[0].probability is None

    vector = np.asarray(FaceEmbedding.objects.filter(identity=people[1]).first().vector)
    ClassifierVersion.objects.filter(pk=version.pk).update(status="training", current=False)  # none usable
    gallery = services.current_gallery(services.current_model_version())
    assert gallery.classifier is None
    candidates, decided_by, _ = services.identify_embedding(vector, gallery=gallery, top_k=3, threshold=0.3)
    assert candidates[0].identity_id == people[1].pk and decided_by == "score"


def test_a_training_that_ends_after_a_newer_one_does_not_replace_it(tmp_path, django_capture_on_commit_callbacks):
    """A retrain that read the templates before an erasure must not undo the urgent one after it."""
    synthetic_gallery(3)
    older = ClassifierVersion.objects.create(status="training")  # claimed, still reading the old templates
    newer = ClassifierVersion.objects.create(status="pending", urgent=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retrain(newer.pk).current
    artifact = tmp_path / "older"
    FaceClassifier().fit(np.eye(4, 512), ["a", "a", "b", "b"]).save(artifact)

    with django_capture_on_commit_callbacks(execute=True):  # the older training ends last
        late = training._finish(older, ClassifierVersion.Status.READY, services.current_model_version(),
                                artifact_dir=str(artifact))

    late.refresh_from_db()
    assert not late.current and late.artifact_dir == "" and not artifact.exists()  # its files are gone
    assert ClassifierVersion.objects.get(current=True).pk == newer.pk


def test_a_classifier_of_an_older_format_is_replaced(monkeypatch, settings, tmp_path):
    settings.FACEREC_CLASSIFIERS_DIR = str(tmp_path)  # the rewritten artifact must not outlive this test
    synthetic_gallery(3)
    version = _retrain()
    (Path(version.artifact_dir) / "classifier.json").write_text('{"metadata": {"kernel": "rbf"}}')  # 2026 SVC
    selectors.forget_loaded_classifiers()
    sent = SentTasks(monkeypatch)

    gallery = services.current_gallery(services.current_model_version())

    assert gallery.classifier is None  # identify goes on by similarity meanwhile
    waiting = ClassifierVersion.objects.get(status="pending")
    assert waiting.urgent and sent.calls == [(waiting.pk, 0)]
    services.current_gallery(services.current_model_version())
    assert len(sent.calls) == 1  # asked once


def test_someone_erased_while_the_classifier_trains_is_left_out_of_it(monkeypatch):
    from django.utils import timezone

    people = synthetic_gallery(3)
    read_templates = selectors.training_templates

    def read_then_erase(model_version):
        rows = read_templates(model_version)
        Identity.objects.filter(pk=people[0].pk).update(status="erased", updated_at=timezone.now())
        return rows

    monkeypatch.setattr(selectors, "training_templates", read_then_erase)
    version = _retrain()

    labels = FaceClassifier.load(version.artifact_dir).labels_.tolist()
    assert str(people[0].pk) not in labels and str(people[1].pk) in labels
