"""Events from their real causes (enrollment, review, identify, verify, liveness, withdrawal, expiry,
re-enrollment, reports, erasure), written with the change that caused them and delivered by the real
worker to a real receiver. video.finished and video.failed: tests/videos/test_processing.py."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.utils import timezone

from enrollment import services
from evaluation import services as evaluation
from identities.models import Consent, EnrollmentImage
from recognition import services as recognition
from recognition.pipeline.images import load_image_file
from tests.reenrollment.test_jobs import approved_photo, person, run_job
from tests.shared_data import ANTISPOOF_SOURCE, LFW_IMAGES
from webhooks import services as webhooks
from webhooks.models import Delivery, EventType

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("loopback_allowed")]


def photo(person: str, n: int) -> services.Upload:
    path = LFW_IMAGES / person / f"{person}_{n:04d}.jpg"
    return services.Upload(name=path.name, data=path.read_bytes())


def enrolled(name: str, folder: str, actor) -> tuple:
    identity = services.create_identity(display_name=name, actor=actor)
    consent = services.record_consent(identity=identity, given_by_name=name, purpose="building access",
                                      wording_version="v1", actor=actor)
    images = services.enroll_photos(identity=identity, uploads=[photo(folder, n) for n in (1, 2)], actor=actor)
    return identity, consent, [i.pk for i in images]


def wait_processed(ids, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while EnrollmentImage.objects.filter(pk__in=ids, status__in=["pending", "processing"]).exists():
        assert time.monotonic() < deadline, "photos not processed"
        time.sleep(0.3)


def received_types(receiver, secret, wanted: dict[str, int], timeout_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        payloads = receiver.verified(secret)
        counts = {t: sum(p["type"] == t for p in payloads) for t in wanted}
        if all(counts[t] >= n for t, n in wanted.items()):
            return payloads
        time.sleep(0.2)
    raise AssertionError(f"received {[p['type'] for p in receiver.verified(secret)]}, wanted {wanted}")


def test_enrollment_review_identify_withdrawal_and_erasure_reach_the_receiver(celery_worker, admin_user, receiver,
                                                                              settings):
    settings.FACEREC_RETRAIN_DELAY_S = 0
    _, secret = webhooks.create_subscription(url=receiver.url, event_types=EventType.values)
    bush, _, bush_photos = enrolled("George W Bush", "George_W_Bush", admin_user)
    powell, powell_consent, powell_photos = enrolled("Colin Powell", "Colin_Powell", admin_user)
    wait_processed(bush_photos + powell_photos)
    services.approve_photos(image_ids=bush_photos + powell_photos[:1], actor=admin_user)
    services.reject_photos(image_ids=powell_photos[1:], reason="blurred", actor=admin_user)

    known = recognition.identify(image=load_image_file(LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0010.jpg"))
    stranger = recognition.identify(image=load_image_file(LFW_IMAGES / "Tony_Blair" / "Tony_Blair_0001.jpg"))
    assert [f.identity_id for f in known.faces] == [bush.pk] and stranger.faces[0].identity_id is None
    services.withdraw_consent(consent=powell_consent, actor=admin_user)
    services.erase_identity(identity=bush, actor=admin_user)

    payloads = received_types(receiver, secret, {
        "photo.awaiting_review": 4, "photo.approved": 3, "photo.rejected": 1, "identify.identified": 1,
        "identify.unknown": 1, "consent.withdrawn": 1, "identity.erased": 1})
    identified = next(p for p in payloads if p["type"] == "identify.identified")["data"]
    assert identified["identity_id"] == bush.pk and identified["score"] >= identified["threshold"]
    assert next(p for p in payloads if p["type"] == "identify.unknown")["data"]["identity_id"] is None
    # Per identity, in the order things happened: Bush's photos, then his identification, then his erasure.
    bush_types = [p["type"] for p in payloads if p["data"].get("identity_id") == bush.pk]
    assert bush_types.index("identity.erased") == len(bush_types) - 1
    assert max(i for i, t in enumerate(bush_types) if t == "photo.approved") < bush_types.index("identify.identified")
    # No names, photos or embeddings anywhere in what left the site.
    raw = b" ".join(r.body for r in receiver.requests).decode()
    for forbidden in ("George", "Bush", "Powell", "embedding", "jpg", "box"):
        assert forbidden not in raw
    assert all(len(json.dumps(p)) < 600 for p in payloads)
    deadline = time.monotonic() + 10  # the receiver answers before the worker commits the delivery
    while Delivery.objects.exclude(status="delivered").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Delivery.objects.exclude(status="delivered").exists()


def test_verify_liveness_consent_expiry_reenrollment_and_reports_reach_the_receiver(
        celery_worker, celery_app_for_tests, admin_user, receiver):
    _, secret = webhooks.create_subscription(url=receiver.url, event_types=EventType.values)
    bush, bush_consent = person("George W Bush")
    approved_photo(bush, bush_consent, LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0001.jpg")
    powell, powell_consent = person("Colin Powell")
    approved_photo(powell, powell_consent, LFW_IMAGES / "Colin_Powell" / "Colin_Powell_0001.jpg")
    Consent.objects.filter(pk=powell_consent.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))

    verified = recognition.verify_identity(
        image=load_image_file(LFW_IMAGES / "George_W_Bush" / "George_W_Bush_0010.jpg"), identity=bush)
    attack = recognition.identify(image=load_image_file(ANTISPOOF_SOURCE / "samples" / "image_F2.jpg"),
                                  liveness="enforce")
    assert verified.match and attack.faces[0].reason == "liveness_failed"
    run_job(celery_app_for_tests, "expire-consents")  # Powell's consent lapsed yesterday
    run_job(celery_app_for_tests, "check-reenrollment")  # Bush has one photo: too few
    report = evaluation.create_report(kind="enrolled", parameters={"folds": 5, "min_photos": 3}, actor=admin_user)

    payloads = received_types(receiver, secret, {
        "verify.completed": 1, "liveness.failed": 1, "identify.unknown": 1, "consent.expired": 1,
        "reenrollment.requested": 1, "report.finished": 1}, timeout_s=240)
    data = {p["type"]: p["data"] for p in payloads}
    assert data["verify.completed"]["identity_id"] == bush.pk and data["verify.completed"]["matched"] is True
    assert data["liveness.failed"]["liveness"]["is_live"] is False
    assert data["consent.expired"]["identity_id"] == powell.pk
    requested = [p["data"] for p in payloads if p["type"] == "reenrollment.requested"]
    assert {"identity_id": bush.pk, "reason": "too_few_photos"}.items() <= next(
        r for r in requested if r["identity_id"] == bush.pk).items()
    report.refresh_from_db()
    assert data["report.finished"] == {"report_id": report.pk, "report_kind": "enrolled", "status": report.status}
    raw = b" ".join(r.body for r in receiver.requests).decode()
    for forbidden in ("George", "Bush", "Powell", "embedding", "jpg", "box"):
        assert forbidden not in raw
