"""The beat-scheduled jobs through the real broker and worker, with the past built by time-machine.

Rows are created "years ago" by travelling the test process's clock back; the worker
then runs each job (sent by the task name the beat schedule holds) at the real now.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from audit.models import AuditLog
from enrollment import services as identity_services
from identities.models import Consent, EnrollmentImage, Identity
from recognition.models import FaceEmbedding, MatchScore
from recognition.runtime import get_pipeline, read_image_file
from reenrollment.models import IdentityPolicy, ReenrollmentRequest
from tests.conftest import sent_mail
from tests.recognition.conftest import lfw_bytes, lfw_path
from tests.shared_data import ORL_DIR

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def run_job(app, name: str):
    """Send the job the beat schedule names, as beat would, and wait for the worker's answer."""
    return app.send_task(settings.CELERY_BEAT_SCHEDULE[name]["task"]).get(timeout=180)


def person(name: str, *, email: str = "", consent_expires_in_days: int | None = None) -> tuple[Identity, Consent]:
    identity = Identity.objects.create(display_name=name, contact_email=email)
    expires = timezone.now() + timedelta(days=consent_expires_in_days) if consent_expires_in_days else None
    consent = Consent.objects.create(identity=identity, given_by_name=name, purpose="access control",
                                     wording_version="v1", expires_at=expires)
    return identity, consent


def approved_photo(identity: Identity, consent: Consent, path) -> EnrollmentImage:
    """An approved photo with its real template (embedded here, at the test process's clock)."""
    pipeline = get_pipeline()
    face = pipeline.process([read_image_file(str(path))], select="largest")[0][0]
    image = EnrollmentImage(identity=identity, consent=consent, status="approved",
                            sha256=hashlib.sha256(str(path).encode()).hexdigest())
    image.file.save("x", ContentFile(path.read_bytes()), save=False)
    image.save()
    info = pipeline.embedder.model_info
    FaceEmbedding.objects.create(image=image, identity=identity, vector=face.embedding, model_name=info.name,
                                 model_version=info.version, active=True)
    return image


def open_requests(identity: Identity, reason: str | None = None):
    qs = ReenrollmentRequest.objects.filter(identity=identity, status="open")
    return qs.filter(reason=reason) if reason else qs


def test_old_templates_and_too_few_photos_raise_one_request_each_and_mail_once(celery_worker, celery_app_for_tests,
                                                                            mail_dir):
    with time_machine.travel(timezone.now() - timedelta(days=800)):
        old, consent = person("Old Templates", email="old.templates@example.org")
        for n in (1, 2, 3):
            approved_photo(old, consent, ORL_DIR / "s1" / f"{n}.pgm")
    lonely, consent = person("One Photo")
    approved_photo(lonely, consent, ORL_DIR / "s2" / "1.pgm")
    fresh, consent = person("Fresh")
    for n in (1, 2):
        approved_photo(fresh, consent, ORL_DIR / "s3" / f"{n}.pgm")

    run_job(celery_app_for_tests, "check-reenrollment")
    run_job(celery_app_for_tests, "check-reenrollment")  # a second run raises nothing new

    aged = open_requests(old).get()
    assert aged.reason == "template_age" and aged.details["age_days"] >= 800
    assert aged.details["max_age_days"] == settings.FACEREC_REENROLL_MAX_TEMPLATE_AGE_DAYS
    assert aged.notified_at is not None
    assert open_requests(lonely).get().reason == "too_few_photos"
    assert open_requests(lonely).get().details == {"active_photos": 1, "minimum": 2}
    assert not open_requests(fresh).exists()
    mail = sent_mail(mail_dir)
    assert mail.count("To: old.templates@example.org") == 1 and "Please provide new photos" in mail
    assert AuditLog.objects.filter(action="reenrollment.request").count() == 2
    assert AuditLog.objects.filter(action="reenrollment.notify", target_id=str(aged.pk)).count() == 1


def test_a_per_identity_policy_overrides_the_settings(celery_worker, celery_app_for_tests):
    with time_machine.travel(timezone.now() - timedelta(days=100)):
        identity, consent = person("Short Policy")
        for n in (1, 2):
            approved_photo(identity, consent, ORL_DIR / "s4" / f"{n}.pgm")
    IdentityPolicy.objects.create(identity=identity, max_template_age_days=90)

    run_job(celery_app_for_tests, "check-reenrollment")

    assert open_requests(identity).get().details["max_age_days"] == 90


def test_recent_matches_below_the_enrollment_baseline_raise_a_drift_request(celery_worker, celery_app_for_tests,
                                                                          admin_client):
    drifting, consent = person("Colin Powell")
    steady, steady_consent = person("George W Bush")
    for n in (1, 2, 3):
        approved_photo(drifting, consent, lfw_path("Colin_Powell", n))
        approved_photo(steady, steady_consent, lfw_path("George_W_Bush", n))

    def verify(identity: Identity, photo: bytes) -> dict:
        # threshold 0: every call is a "successful" verification whose score is recorded
        response = admin_client.post("/api/v1/verify", {"image": ContentFile(photo, name="p.jpg"),
                                                        "identity_id": identity.pk, "threshold": 0})
        assert response.status_code == 200, response.content
        return response.json()

    run_job(celery_app_for_tests, "check-reenrollment")
    assert not ReenrollmentRequest.objects.exists()  # no matches yet: no drift figures

    window = settings.FACEREC_DRIFT_WINDOW
    for n in range(1, window + 1):
        verify(drifting, lfw_bytes("Tony_Blair", n))  # someone else keeps matching as Colin Powell
        verify(steady, lfw_bytes("George_W_Bush", n + 10))  # the real person
    assert MatchScore.objects.filter(identity=drifting).count() == window

    run_job(celery_app_for_tests, "check-reenrollment")
    run_job(celery_app_for_tests, "check-reenrollment")

    drift = open_requests(drifting, "drift").get()
    assert drift.details["drifted"] is True and drift.details["window"] == window
    assert drift.details["baseline"] - drift.details["recent_median"] > settings.FACEREC_DRIFT_MARGIN
    assert not open_requests(steady).exists()


def test_expired_consent_switches_templates_off_then_erases_after_the_grace_period(
        celery_worker, celery_app_for_tests, mail_dir):
    grace = settings.FACEREC_CONSENT_EXPIRY_GRACE_DAYS
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        long_ago, consent = person("Expired Long Ago", email="long.ago@example.org",
                                   consent_expires_in_days=400 - grace - 10)  # expired grace+10 days ago
        approved_photo(long_ago, consent, ORL_DIR / "s5" / "1.pgm")
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        recent, consent = person("Expired Yesterday", email="yesterday@example.org", consent_expires_in_days=29)
        approved_photo(recent, consent, ORL_DIR / "s6" / "1.pgm")
    valid, consent = person("Still Valid", consent_expires_in_days=10)
    approved_photo(valid, consent, ORL_DIR / "s7" / "1.pgm")

    assert sorted(run_job(celery_app_for_tests, "expire-consents")) == sorted([long_ago.pk, recent.pk])
    assert run_job(celery_app_for_tests, "expire-consents") == []  # handled once

    assert not FaceEmbedding.objects.filter(identity__in=[long_ago, recent], active=True).exists()
    assert FaceEmbedding.objects.filter(identity=valid, active=True).count() == 1
    recent.refresh_from_db()
    assert recent.erasure_due_at > timezone.now() + timedelta(days=grace - 2)
    assert AuditLog.objects.filter(action="consent.expired").count() == 2
    mail = sent_mail(mail_dir)
    assert "To: long.ago@example.org" in mail and "To: yesterday@example.org" in mail

    run_job(celery_app_for_tests, "erase-due-identities")

    long_ago.refresh_from_db()
    recent.refresh_from_db()
    assert long_ago.status == "erased" and not EnrollmentImage.objects.filter(identity=long_ago).exists()
    assert AuditLog.objects.filter(action="identity.erase", target_id=str(long_ago.pk)).count() == 1
    assert recent.status == "active"  # still in its grace period
    assert EnrollmentImage.objects.filter(identity=recent).count() == 1


def test_approving_new_photos_fulfils_the_request_and_retires_the_oldest_templates(
        celery_worker, celery_app_for_tests, admin_user):
    with time_machine.travel(timezone.now() - timedelta(days=800)):
        identity, consent = person("Needs New Photos")
        old_photos = [approved_photo(identity, consent, ORL_DIR / "s8" / f"{n}.pgm") for n in (1, 2, 3)]
    IdentityPolicy.objects.create(identity=identity, max_active_photos=2)
    run_job(celery_app_for_tests, "check-reenrollment")
    request = open_requests(identity, "template_age").get()

    new = identity_services.enroll_photos(identity=identity, actor=admin_user, uploads=[
        identity_services.Upload(name="new.pgm", data=(ORL_DIR / "s8" / "9.pgm").read_bytes())])[0]
    deadline = timezone.now() + timedelta(seconds=120)
    while EnrollmentImage.objects.get(pk=new.pk).status in ("pending", "processing"):
        assert timezone.now() < deadline, "the worker did not process the new photo"
        time.sleep(0.3)
    assert EnrollmentImage.objects.get(pk=new.pk).status == "awaiting_review"
    identity_services.approve_photos(image_ids=[new.pk], actor=admin_user)

    request.refresh_from_db()
    assert request.status == "fulfilled" and request.closed_by == admin_user
    statuses = dict(EnrollmentImage.objects.filter(identity=identity).values_list("pk", "status"))
    # Newest two kept (the new photo and the newest old one); the two oldest retired, not deleted.
    assert statuses == {new.pk: "approved", old_photos[2].pk: "approved",
                        old_photos[1].pk: "retired", old_photos[0].pk: "retired"}
    active = set(FaceEmbedding.objects.filter(identity=identity, active=True).values_list("image_id", flat=True))
    assert active == {new.pk, old_photos[2].pk}
    assert AuditLog.objects.filter(action="reenrollment.fulfil", target_id=str(request.pk)).exists()
    retire = AuditLog.objects.get(action="photo.retire")
    assert sorted(retire.details["photos"]) == sorted([old_photos[0].pk, old_photos[1].pk])

    run_job(celery_app_for_tests, "check-reenrollment")
    assert not open_requests(identity).exists()  # the newest template is fresh now


def test_erasure_removes_match_scores_requests_and_policy(celery_worker, celery_app_for_tests):
    identity, consent = person("To Be Erased")
    approved_photo(identity, consent, ORL_DIR / "s9" / "1.pgm")
    IdentityPolicy.objects.create(identity=identity, min_active_photos=3)
    MatchScore.objects.create(identity=identity, similarity=0.7, kind="verify", model_version="m")
    run_job(celery_app_for_tests, "check-reenrollment")
    assert open_requests(identity, "too_few_photos").exists()

    counts = identity_services.erase_identity(identity=identity)

    assert counts["match_scores"] == 1
    assert not ReenrollmentRequest.objects.filter(identity=identity).exists()
    assert not IdentityPolicy.objects.filter(identity=identity).exists()
