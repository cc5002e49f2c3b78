"""What a consent lapse does, whether the person withdrew it or it expired.

Both switch the person's templates off now, schedule the erasure and ask for a retrain
(`lapse_consent`); the erasure itself is `erasure.erase_due_identities`, which checks the
consent again, so a consent given in the meantime keeps the person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import services as audit
from core.errors import InvalidTransition
from core.tasks import enqueue_on_commit
from enrollment.tasks import erase_due_identities as erase_due_identities_task
from identities.models import Consent, Identity
from identities.selectors import valid_consent
from recognition.services import deactivate_templates, request_retrain
from reenrollment.services import mail_identity
from webhooks.services import emit

CONSENT_SUBJECT = "Your consent to face recognition has expired"
CONSENT_BODY = """Hello {name},

Your consent to face recognition expired on {expired:%Y-%m-%d}. Your face templates are
switched off now, and your photos will be erased on {erase:%Y-%m-%d} unless you give
consent again before then.
"""


def lapse_consent(*, identity: Identity, erase_at: datetime | None) -> int:
    """The person's templates stop matching now and, with `erase_at`, their erasure is scheduled; a retrain
    follows when templates went off. Inside the caller's transaction; returns how many went off."""
    deactivated = deactivate_templates(identity=identity)
    if erase_at is not None:
        identity.erasure_due_at = erase_at
        identity.save(update_fields=["erasure_due_at", "updated_at"])
    if deactivated:
        request_retrain()
    return deactivated


@transaction.atomic
def withdraw_consent(*, consent: Consent, actor=None) -> Consent:
    """Withdraw at once: the identity's templates stop matching now; erasure follows per policy."""
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise InvalidTransition(f"consent #{consent.pk} was already withdrawn")
    consent.withdrawn_at = timezone.now()
    consent.save(update_fields=["withdrawn_at"])
    identity = consent.identity
    erase_after = timedelta(days=settings.FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS)
    # Another valid consent keeps the person: templates off until a new review, no erasure.
    erase_at = consent.withdrawn_at + erase_after if valid_consent(identity) is None else None
    deactivated = lapse_consent(identity=identity, erase_at=erase_at)
    audit.record(action="consent.withdraw", actor=actor, target=consent,
                 details={"identity_id": identity.pk, "templates_deactivated": deactivated,
                          "erasure_due_at": identity.erasure_due_at})
    emit("consent.withdrawn", {"consent_id": consent.pk, "identity_id": identity.pk,
                               "erase_after": erase_at.isoformat() if erase_at else None}, identity_id=identity.pk)
    if identity.erasure_due_at is not None and erase_after.total_seconds() == 0:
        # Broker unreachable: the hourly beat job erases instead.
        enqueue_on_commit(erase_due_identities_task)
    return consent


def expire_consents(*, now: datetime | None = None) -> list[int]:
    """Identities whose consent ran out: templates off now, erasure scheduled after the grace period.

    Safe to run twice: an expired consent is handled once (its identity then carries an
    erasure date). Consent renewed in the grace period keeps the person (their photos then
    need a new review to become templates again).
    """
    now = now or timezone.now()
    expired_ids = (Consent.objects.filter(expires_at__lte=now, withdrawn_at__isnull=True,
                                          identity__status=Identity.Status.ACTIVE,
                                          identity__erasure_due_at__isnull=True)
                   .values_list("identity_id", flat=True).distinct())
    handled = []
    for identity in Identity.objects.filter(pk__in=list(expired_ids)).order_by("pk"):
        if valid_consent(identity, at=now) is not None:
            continue  # a newer consent is in force
        with transaction.atomic():
            identity = Identity.objects.select_for_update().get(pk=identity.pk)
            if identity.erasure_due_at is not None:
                continue  # another run got here first
            expired_at = (identity.consents.filter(expires_at__lte=now).order_by("-expires_at")
                          .values_list("expires_at", flat=True).first())
            # The grace period runs from the expiry; a job that ran late does not extend it.
            erase_at = max((expired_at or now) + timedelta(days=settings.FACEREC_CONSENT_EXPIRY_GRACE_DAYS), now)
            deactivated = lapse_consent(identity=identity, erase_at=erase_at)
            audit.record(action="consent.expired", target=identity, details={
                "expired_at": expired_at.isoformat() if expired_at else None, "templates_deactivated": deactivated,
                "erasure_due_at": erase_at.isoformat()})
            emit("consent.expired", {"identity_id": identity.pk, "erase_after": erase_at.isoformat(),
                                     "expired_on": expired_at.isoformat() if expired_at else None},
                 identity_id=identity.pk)
        if mail_identity(identity, CONSENT_SUBJECT, CONSENT_BODY.format(name=identity.display_name,
                                                                        expired=expired_at or now, erase=erase_at)):
            audit.record(action="consent.expiry_notify", target=identity, details={"channel": "email"})
        handled.append(identity.pk)
    return handled
