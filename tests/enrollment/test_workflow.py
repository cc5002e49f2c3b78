"""The enrollment workflow end to end: services, the real broker and the real worker."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from audit.models import AuditLog
from core.errors import ConsentRequired, DuplicatePhoto, InvalidTransition, PhotoRejected
from enrollment import services
from identities.models import Consent, EnrollmentImage, Identity, private_storage
from recognition.models import ClassifierVersion, FaceEmbedding
from tests.shared_data import LFW_IMAGES

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def photo(person: str, n: int) -> services.Upload:
    path = LFW_IMAGES / person / f"{person}_{n:04d}.jpg"
    return services.Upload(name=path.name, data=path.read_bytes())


def blank_photo() -> services.Upload:
    buf = io.BytesIO()
    Image.new("RGB", (250, 250), (128, 128, 128)).save(buf, format="JPEG")
    return services.Upload(name="wall.jpg", data=buf.getvalue())


def enrolled_person(name: str, actor=None) -> Identity:
    identity = services.create_identity(display_name=name, actor=actor)
    services.record_consent(identity=identity, given_by_name=name, purpose="building access",
                            wording_version="v1", actor=actor)
    return identity


def wait_until_processed(ids, timeout_s: float = 180) -> dict[int, EnrollmentImage]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        images = {i.pk: i for i in EnrollmentImage.objects.filter(pk__in=ids)}
        if all(i.status not in ("pending", "processing") for i in images.values()):
            return images
        time.sleep(0.5)
    raise AssertionError(f"not processed in {timeout_s}s: {[(i.pk, i.status) for i in images.values()]}")


def wait_for_classifier(previous_id: int | None, timeout_s: float = 120) -> ClassifierVersion:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = ClassifierVersion.objects.filter(current=True).first()
        if current is not None and current.pk != previous_id:
            return current
        time.sleep(0.5)
    raise AssertionError("no new classifier version became current")


@pytest.fixture(autouse=True)
def fast_retrain(settings):
    settings.FACEREC_RETRAIN_DELAY_S = 0


def test_uploaded_photos_are_processed_reviewed_and_become_templates(celery_worker, admin_user):
    bush = enrolled_person("George W Bush", admin_user)
    images = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", n) for n in (1, 2, 3)]
                                    + [blank_photo()], actor=admin_user)
    assert {i.status for i in images} == {"pending"}

    done = wait_until_processed([i.pk for i in images])

    statuses = sorted(i.status for i in done.values())
    assert statuses == ["awaiting_review"] * 3 + ["rejected"]
    wall = next(i for i in done.values() if i.status == "rejected")
    assert wall.rejection_reason == "no_face"
    for image in (i for i in done.values() if i.status == "awaiting_review"):
        assert image.crop and private_storage.exists(image.crop.name)
        assert image.detection_probability > 0.95 and len(image.face_box) == 4
        assert image.quality["sharpness"] > 0
        embedding = FaceEmbedding.objects.get(image=image)
        assert embedding.active is False
        assert np.linalg.norm(embedding.vector) == pytest.approx(1.0, abs=1e-4)

    reviewable = [i.pk for i in done.values() if i.status == "awaiting_review"]
    services.approve_photos(image_ids=reviewable, actor=admin_user)

    assert FaceEmbedding.objects.filter(identity=bush, active=True).count() == 3
    actions = list(AuditLog.objects.values_list("action", flat=True))
    assert actions.count("photo.upload") == 4 and actions.count("photo.approve") == 3
    assert actions.count("photo.process") == 4
    # One identity cannot train an SVM: identification falls back to nearest neighbours.
    assert wait_for_classifier(None).status == "skipped"


def test_second_identity_trains_a_classifier_and_duplicates_are_flagged(celery_worker, admin_user):
    bush = enrolled_person("George W Bush", admin_user)
    powell = enrolled_person("Colin Powell", admin_user)
    first = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", n) for n in (1, 2)])
    first += services.enroll_photos(identity=powell, uploads=[photo("Colin_Powell", n) for n in (1, 2)])
    wait_until_processed([i.pk for i in first])
    services.approve_photos(image_ids=[i.pk for i in first], actor=admin_user)
    version = wait_for_classifier(None)
    assert version.status == "ready" and version.n_identities == 2 and version.n_samples == 4

    # Someone enrolls a photo of Bush under another name: the reviewer is warned.
    impostor = enrolled_person("Not Bush", admin_user)
    [suspect] = services.enroll_photos(identity=impostor, uploads=[photo("George_W_Bush", 5)])
    suspect = wait_until_processed([suspect.pk])[suspect.pk]

    duplicate = suspect.quality["possible_duplicate"]
    assert duplicate["identity_id"] == bush.pk
    assert duplicate["similarity"] >= duplicate["threshold"]


def test_erasure_leaves_no_file_row_or_vector_behind(celery_worker, admin_user):
    bush = enrolled_person("George W Bush", admin_user)
    powell = enrolled_person("Colin Powell", admin_user)
    images = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", n) for n in (1, 2)])
    images += services.enroll_photos(identity=powell, uploads=[photo("Colin_Powell", n) for n in (1, 2)])
    wait_until_processed([i.pk for i in images])
    services.approve_photos(image_ids=[i.pk for i in images], actor=admin_user)
    before = wait_for_classifier(None)
    bush_files = [f.name for i in EnrollmentImage.objects.filter(identity=bush) for f in (i.file, i.crop)]
    assert len(bush_files) == 4 and all(private_storage.exists(name) for name in bush_files)

    counts = services.erase_identity(identity=bush, actor=admin_user)

    assert counts == {"photos": 2, "embeddings": 2, "match_scores": 0, "consents": 1}
    assert not any(private_storage.exists(name) for name in bush_files)
    assert not EnrollmentImage.objects.filter(identity=bush).exists()
    assert not FaceEmbedding.objects.filter(identity=bush).exists()
    assert not Consent.objects.filter(identity=bush).exists()
    bush.refresh_from_db()
    assert bush.status == "erased" and bush.display_name == ""
    entry = AuditLog.objects.get(action="identity.erase")
    assert entry.details == counts  # counts only: no name, no biometric data
    # The classifier is retrained without them (only one identity left: nearest neighbours).
    assert wait_for_classifier(before.pk).status == "skipped"
    # Erasing again changes nothing and records nothing.
    assert services.erase_identity(identity=bush) == {"photos": 0, "embeddings": 0, "match_scores": 0, "consents": 0}
    assert AuditLog.objects.filter(action="identity.erase").count() == 1


def test_processing_twice_creates_one_embedding(celery_worker):
    bush = enrolled_person("George W Bush")
    [image] = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", 1)])
    wait_until_processed([image.pk])

    assert services.process_photo(image.pk) is None  # already claimed and done
    assert FaceEmbedding.objects.filter(image=image).count() == 1


def test_sweeper_requeues_photos_a_dead_worker_left_in_processing(celery_worker):
    bush = enrolled_person("George W Bush")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("enrollment.services.photos._queue_processing", lambda ids: None)  # the broker "lost" the task
        [image] = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", 1)])
    EnrollmentImage.objects.filter(pk=image.pk).update(
        status="processing", processing_started_at=timezone.now() - timedelta(hours=1))

    requeued = services.requeue_stale_photos(pending_after_s=300, processing_after_s=900)

    assert requeued == [image.pk]
    assert wait_until_processed([image.pk])[image.pk].status == "awaiting_review"


def stored_photo_files(media_root) -> list:
    return [p for p in (media_root / "private").rglob("*.img")] if (media_root / "private").exists() else []


def test_bad_uploads_are_refused_and_store_nothing(admin_user, settings):
    bush = services.create_identity(display_name="George W Bush")
    with pytest.raises(ConsentRequired):
        services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", 1)])
    services.record_consent(identity=bush, given_by_name="GWB", purpose="test", wording_version="v1")
    good = photo("George_W_Bush", 1)
    with pytest.raises(PhotoRejected) as rejected:
        services.enroll_photos(identity=bush, uploads=[good, services.Upload("cut.jpg", good.data[:2000])])
    assert rejected.value.code == "corrupt"
    with pytest.raises(PhotoRejected):
        services.enroll_photos(identity=bush, uploads=[])
    assert not EnrollmentImage.objects.exists()
    files_before = len(stored_photo_files(settings.MEDIA_ROOT))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("enrollment.services.photos._queue_processing", lambda ids: None)
        services.enroll_photos(identity=bush, uploads=[good])
        with pytest.raises(DuplicatePhoto):
            services.enroll_photos(identity=bush, uploads=[good])
    assert EnrollmentImage.objects.count() == 1
    # Exactly one file was added: the refused duplicate left nothing on disk.
    assert len(stored_photo_files(settings.MEDIA_ROOT)) == files_before + 1


def test_withdrawn_consent_deactivates_templates_and_blocks_approval(celery_worker, admin_user, settings):
    settings.FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS = 30
    bush = enrolled_person("George W Bush", admin_user)
    images = services.enroll_photos(identity=bush, uploads=[photo("George_W_Bush", n) for n in (1, 2)])
    done = wait_until_processed([i.pk for i in images])
    services.approve_photos(image_ids=[images[0].pk], actor=admin_user)
    assert FaceEmbedding.objects.filter(identity=bush, active=True).count() == 1

    services.withdraw_consent(consent=bush.consents.get(), actor=admin_user)

    assert FaceEmbedding.objects.filter(identity=bush, active=True).count() == 0
    bush.refresh_from_db()
    assert bush.erasure_due_at > timezone.now() + timedelta(days=29)
    with pytest.raises(ConsentRequired):
        services.approve_photos(image_ids=[images[1].pk], actor=admin_user)
    with pytest.raises(InvalidTransition):
        services.withdraw_consent(consent=bush.consents.get(), actor=admin_user)
    assert done  # both were processed before the withdrawal


def enroll_and_approve_separately(people: dict[str, str], admin_user, photos=(1, 2)) -> dict[str, Identity]:
    """Each person's photos approved in a transaction of their own: a retrain request each."""
    enrolled, images = {}, {}
    for name, folder in people.items():
        enrolled[name] = enrolled_person(name, admin_user)
        images[name] = services.enroll_photos(identity=enrolled[name], uploads=[photo(folder, n) for n in photos])
    wait_until_processed([i.pk for batch in images.values() for i in batch])
    for name, batch in images.items():
        services.approve_photos(image_ids=[i.pk for i in batch], actor=admin_user)
    return enrolled


def test_a_bulk_enrollment_trains_the_classifier_once(celery_worker, admin_user, settings):
    settings.FACEREC_RETRAIN_DELAY_S = 5  # approvals within 5 s of each other share one retrain
    people = {"George W Bush": "George_W_Bush", "Colin Powell": "Colin_Powell", "Tony Blair": "Tony_Blair",
              "Donald Rumsfeld": "Donald_Rumsfeld"}

    enroll_and_approve_separately(people, admin_user)
    version = wait_for_classifier(None)
    time.sleep(2)  # a second retrain, had one been queued, would show up now

    assert AuditLog.objects.filter(action="photo.approve").count() == 8
    assert ClassifierVersion.objects.count() == 1
    assert version.status == "ready" and version.n_identities == 4 and version.n_samples == 8


def test_an_erased_identity_is_never_returned_and_no_classifier_artifact_keeps_it(celery_worker, admin_user,
                                                                                  settings):
    import json
    from pathlib import Path

    from django.conf import settings as django_settings

    from recognition import services as recognition
    from recognition.pipeline.images import load_image_file

    settings.FACEREC_RETRAIN_DELAY_S = 5  # one training for the three people (not one of Bush alone)
    people = enroll_and_approve_separately({"George W Bush": "George_W_Bush", "Colin Powell": "Colin_Powell",
                                            "Tony Blair": "Tony_Blair"}, admin_user, photos=(1, 2, 3))
    before = wait_for_classifier(None)
    bush = people["George W Bush"]
    assert before.status == "ready" and str(bush.pk) in (Path(before.artifact_dir) / "classifier.json").read_text()
    probe = load_image_file(LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0010.jpg")
    assert bush.pk in [f.identity_id for f in recognition.identify(image=probe).faces]

    services.erase_identity(identity=bush, actor=admin_user)
    after = wait_for_classifier(before.pk)
    deadline = time.monotonic() + 30  # superseded artifacts are deleted once the new version committed
    while Path(before.artifact_dir).exists() and time.monotonic() < deadline:
        time.sleep(0.2)

    assert after.status == "ready" and after.n_identities == 2
    # Every artifact left, current or older: none holds the erased person's label (weights go with it).
    artifacts = list(Path(django_settings.FACEREC_CLASSIFIERS_DIR).glob("*/classifier.json"))
    assert artifacts and not Path(before.artifact_dir).exists()
    for path in artifacts:
        assert str(bush.pk) not in json.loads(path.read_text())["labels"]
    before.refresh_from_db()
    assert before.artifact_dir == ""
    answer = recognition.identify(image=probe, threshold=-1.0)  # even with every candidate accepted
    assert all(c.identity_id != bush.pk for f in answer.faces for c in f.candidates)
