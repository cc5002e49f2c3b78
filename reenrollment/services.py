"""Writes of re-enrollment: the daily rule check, drift, fulfilment, retirement.

Every job takes `now` (the beat tasks pass nothing: the real clock) and is safe to
run twice: a rule broken again while its request is open raises nothing new.
Consent expiry is enrollment.services.expire_consents (a consent lapse, like a withdrawal).
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from audit import services as audit
from core.errors import InvalidTransition, NotFound
from identities.models import EnrollmentImage, Identity
from identities.selectors import valid_consent
from recognition.models import MatchScore
from recognition.runtime import get_embedder
from recognition.selectors import active_templates
from recognition.services import deactivate_templates
from reenrollment.models import IdentityPolicy, ReenrollmentRequest
from webhooks.services import emit

log = logging.getLogger(__name__)
Reason = ReenrollmentRequest.Reason
Status = ReenrollmentRequest.Status


@dataclass(frozen=True)
class Policy:
    max_template_age_days: int
    min_active_photos: int
    max_active_photos: int
    drift_margin: float
    drift_window: int


def policy_for(identity: Identity) -> Policy:
    """The FACEREC_REENROLL_* settings, with this identity's overrides where it has any."""
    return _policy(IdentityPolicy.objects.filter(identity=identity).first())


def _policy(override: IdentityPolicy | None) -> Policy:
    def pick(name: str, setting: str):
        value = getattr(override, name, None) if override else None
        return getattr(settings, setting) if value is None else value

    return Policy(max_template_age_days=pick("max_template_age_days", "FACEREC_REENROLL_MAX_TEMPLATE_AGE_DAYS"),
                  min_active_photos=pick("min_active_photos", "FACEREC_REENROLL_MIN_ACTIVE_PHOTOS"),
                  max_active_photos=pick("max_active_photos", "FACEREC_REENROLL_MAX_ACTIVE_PHOTOS"),
                  drift_margin=pick("drift_margin", "FACEREC_DRIFT_MARGIN"),
                  drift_window=settings.FACEREC_DRIFT_WINDOW)


def _serving_model_version() -> str:
    return get_embedder().model_info.version


def _active_photos(identity: Identity, model_version: str):
    return EnrollmentImage.objects.filter(identity=identity, status=EnrollmentImage.Status.APPROVED,
                                          embeddings__model_version=model_version, embeddings__active=True)


# --- drift -------------------------------------------------------------------------------


def drift_figures(identity: Identity, *, model_version: str, policy: Policy) -> dict | None:
    """Recent genuine-match similarity against the identity's own enrollment baseline.

    Baseline: the median cosine similarity between the identity's active templates (how
    alike its enrollment photos are). Recent: the median of its last `drift_window`
    successful matches since its last fulfilled re-enrollment. None until both exist.
    """
    vectors = [np.asarray(v, dtype=np.float32) for v in
               active_templates(model_version).filter(identity=identity).values_list("vector", flat=True)]
    if len(vectors) < 2:
        return None
    x = np.stack(vectors)
    sims = (x @ x.T)[np.triu_indices(len(x), k=1)]
    since = (ReenrollmentRequest.objects.filter(identity=identity, status=Status.FULFILLED)
             .order_by("-closed_at").values_list("closed_at", flat=True).first())
    scores = MatchScore.objects.filter(identity=identity, model_version=model_version)
    if since is not None:
        scores = scores.filter(created_at__gt=since)
    recent = list(scores.order_by("-created_at", "-id").values_list("similarity", flat=True)[: policy.drift_window])
    if len(recent) < policy.drift_window:
        return None
    baseline, recent_median = float(np.median(sims)), float(statistics.median(recent))
    drop = baseline - recent_median
    return {"baseline": round(baseline, 4), "recent_median": round(recent_median, 4), "drop": round(drop, 4),
            "window": policy.drift_window, "margin": policy.drift_margin, "drifted": drop > policy.drift_margin}


# --- the daily rule check ---------------------------------------------------------------


def check_identities(*, now: datetime | None = None) -> list[ReenrollmentRequest]:
    """Raise a request for every identity that breaks a rule (once while it is open); notify; expire old ones."""
    now = now or timezone.now()
    expire_requests(now=now)
    model_version = _serving_model_version()
    raised: list[ReenrollmentRequest] = []
    enrolled = (Identity.objects.filter(status=Identity.Status.ACTIVE,
                                        images__status__in=[EnrollmentImage.Status.APPROVED,
                                                            EnrollmentImage.Status.RETIRED])
                .distinct().order_by("pk"))
    overrides = {override.identity_id: override for override in IdentityPolicy.objects.all()}
    for identity in enrolled:
        if valid_consent(identity, at=now) is None:
            continue  # no consent: expire_consents switches them off instead
        policy = _policy(overrides.get(identity.pk))
        photos = _active_photos(identity, model_version).aggregate(count=Count("pk"), newest=Max("created_at"))
        count, newest = photos["count"], photos["newest"]
        if count < policy.min_active_photos:
            raised.append(raise_request(identity=identity, reason=Reason.TOO_FEW_PHOTOS, now=now,
                                        details={"active_photos": count, "minimum": policy.min_active_photos}))
        if newest is not None and newest < now - timedelta(days=policy.max_template_age_days):
            raised.append(raise_request(identity=identity, reason=Reason.TEMPLATE_AGE, now=now, details={
                "newest_template_at": newest.isoformat(), "age_days": (now - newest).days,
                "max_age_days": policy.max_template_age_days}))
        figures = drift_figures(identity, model_version=model_version, policy=policy)
        if figures and figures["drifted"]:
            raised.append(raise_request(identity=identity, reason=Reason.DRIFT, now=now, details=figures))
    notify_pending()
    return [r for r in raised if r is not None]


def raise_request(*, identity: Identity, reason: str, details: dict, now: datetime | None = None
                  ) -> ReenrollmentRequest | None:
    """A new open request, or None when one for this identity and reason is open already."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            request = ReenrollmentRequest.objects.create(
                identity=identity, reason=reason, details=details, created_at=now,
                due_at=now + timedelta(days=settings.FACEREC_REENROLL_DUE_DAYS))
            audit.record(action="reenrollment.request", target=request,
                         details={"identity_id": identity.pk, "reason": reason, **details})
            emit("reenrollment.requested", {"reenrollment_request_id": request.pk, "identity_id": identity.pk,
                                            "reason": reason, "due_on": request.due_at.isoformat()},
                 identity_id=identity.pk)
    except IntegrityError:
        return None
    return request


def expire_requests(*, now: datetime | None = None) -> int:
    """Open requests past their due date become `expired` (a rule still broken raises a new one)."""
    now = now or timezone.now()
    expired = 0
    for request in ReenrollmentRequest.objects.filter(status=Status.OPEN, due_at__lte=now):
        with transaction.atomic():
            if ReenrollmentRequest.objects.filter(pk=request.pk, status=Status.OPEN).update(
                    status=Status.EXPIRED, closed_at=now):
                audit.record(action="reenrollment.expire", target=request,
                             details={"identity_id": request.identity_id, "reason": request.reason})
                expired += 1
    return expired


# --- notifications ----------------------------------------------------------------------

REQUEST_SUBJECT = "Please provide new photos for face recognition"
REQUEST_BODY = """Hello {name},

The photos used to recognise you need renewing ({reason}). Please bring or send new
photos to the operator before {due:%Y-%m-%d}; they go through the usual review.

Request #{id}. You received this because you consented to face recognition; you may
withdraw that consent at any time.
"""


def mail_identity(identity: Identity, subject: str, body: str) -> bool:
    """Mail the person at their contact address; False when there is none or the mail server failed."""
    if not identity.contact_email:
        return False
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [identity.contact_email])
    except Exception:  # a mail outage must not stop the job; the next run retries
        log.exception("could not mail identity %s", identity.pk)
        return False
    return True


def notify_pending() -> int:
    """Mail every open request not yet notified (those without a contact address stay listed for admins)."""
    sent = 0
    for request in (ReenrollmentRequest.objects.filter(status=Status.OPEN, notified_at__isnull=True)
                    .exclude(identity__contact_email="").select_related("identity")):
        body = REQUEST_BODY.format(name=request.identity.display_name, reason=request.get_reason_display(),
                                   due=request.due_at, id=request.pk)
        if mail_identity(request.identity, REQUEST_SUBJECT, body):
            ReenrollmentRequest.objects.filter(pk=request.pk).update(notified_at=timezone.now())
            audit.record(action="reenrollment.notify", target=request,
                         details={"identity_id": request.identity_id, "channel": "email"})
            sent += 1
    return sent


# --- fulfilment and retirement ------------------------------------------------------------


def fulfil_requests(*, identity: Identity, approved: list[EnrollmentImage], actor=None) -> list[int]:
    """Called when photos are approved: photos uploaded after an open request fulfil it, and
    the oldest templates beyond the policy's count are retired. Returns the fulfilled ids."""
    open_requests = list(ReenrollmentRequest.objects.select_for_update()
                         .filter(identity=identity, status=Status.OPEN))
    fulfilled = []
    for request in open_requests:
        new_photos = [image.pk for image in approved if image.created_at >= request.created_at]
        if not new_photos:
            continue
        now = timezone.now()
        ReenrollmentRequest.objects.filter(pk=request.pk).update(status=Status.FULFILLED, closed_at=now,
                                                                 closed_by=actor if _is_user(actor) else None)
        audit.record(action="reenrollment.fulfil", actor=actor, target=request,
                     details={"identity_id": identity.pk, "reason": request.reason, "photos": new_photos})
        fulfilled.append(request.pk)
    if fulfilled:
        retire_old_templates(identity=identity, keep=policy_for(identity).max_active_photos, actor=actor)
    return fulfilled


def retire_old_templates(*, identity: Identity, keep: int, actor=None) -> list[int]:
    """Approved photos beyond the newest `keep` become `retired`: templates off, photo kept until erasure."""
    old = list(EnrollmentImage.objects.filter(identity=identity, status=EnrollmentImage.Status.APPROVED)
               .order_by("-created_at", "-id").values_list("pk", flat=True)[keep:])
    if not old:
        return []
    EnrollmentImage.objects.filter(pk__in=old).update(status=EnrollmentImage.Status.RETIRED,
                                                      updated_at=timezone.now())
    deactivated = deactivate_templates(photo_ids=old)
    audit.record(action="photo.retire", actor=actor, target=identity,
                 details={"photos": old, "templates_deactivated": deactivated, "kept": keep})
    return old


def dismiss_request(*, request_id: int, actor=None, note: str = "") -> ReenrollmentRequest:
    with transaction.atomic():
        request = ReenrollmentRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise NotFound(f"no re-enrollment request #{request_id}")
        if request.status != Status.OPEN:
            raise InvalidTransition(f"request #{request.pk} is {request.status}; only an open one can be dismissed")
        request.status, request.closed_at = Status.DISMISSED, timezone.now()
        request.closed_by, request.close_note = (actor if _is_user(actor) else None), note
        request.save()
        audit.record(action="reenrollment.dismiss", actor=actor, target=request,
                     details={"identity_id": request.identity_id, "reason": request.reason})
    return request


def _is_user(actor) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def policy_as_dict(identity: Identity) -> dict:
    return asdict(policy_for(identity))
