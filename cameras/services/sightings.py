"""Sightings: a decided track becomes one (or extends the same person's at the same camera within
FACEREC_SIGHTING_COOLDOWN_S), audited and emitted as a webhook event in the same transaction; their
retention (FACEREC_SIGHTING_DAYS, unknown crops FACEREC_UNKNOWN_CROP_HOURS) and a person's erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from audit import services as audit
from cameras import metrics
from cameras.models import Camera, Sighting
from core.pictures import png_bytes
from identities.models import Identity
from identities.services import delete_stored_files
from recognition.services import Decision
from recognition.services.matching import LIVENESS_FAILED
from webhooks.services import emit

IDENTITY_ERASED = "identity_erased"  # identified, but erased before the row was written


@dataclass
class SeenTrack:
    """What a watcher knows of a track when it is decided: times (aware datetimes) and the best crop."""

    first_seen: datetime
    last_seen: datetime
    frames_seen: int
    crop: np.ndarray | None  # uint8 RGB


def _event_payload(sighting: Sighting) -> dict:
    payload = {"camera_id": sighting.camera_id, "sighting_id": sighting.pk,
               "first_seen": sighting.first_seen.isoformat(), "last_seen": sighting.last_seen.isoformat(),
               "score": sighting.score, "threshold": sighting.threshold}
    if sighting.identity_id is not None:
        payload["identity_id"] = sighting.identity_id
    else:
        payload["reason"] = sighting.reason
    if sighting.liveness:
        payload["liveness_score"] = sighting.liveness.get("score")
    return payload


EVENTS = {"identified": "camera.sighting", "unknown": "camera.unknown", "liveness_failed": "camera.liveness_failed"}


def record_sighting(*, camera_id: int, decision: Decision, seen: SeenTrack, threshold: float) -> Sighting | None:
    """The decided track's sighting: a new row (audited, emitted), or the same person's recent one at this
    camera extended. None where the camera records no unknown people (or is gone)."""
    crops: list[str] = []
    try:
        with transaction.atomic():
            sighting = _record(camera_id, decision, seen, threshold, crops)
    except BaseException:
        delete_stored_files(crops)  # written before a rollback: no row names them
        raise
    return sighting


def _record(camera_id: int, decision: Decision, seen: SeenTrack, threshold: float, crops: list[str]):
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is None:
        return None
    identity_id, reason = decision.identity_id, decision.reason
    # Erasure locks the person first: one that came first leaves them erased here; a later one waits.
    if identity_id is not None and not Identity.objects.select_for_update().filter(
            pk=identity_id, status=Identity.Status.ACTIVE).exists():
        identity_id, reason = None, IDENTITY_ERASED
    outcome = "liveness_failed" if reason == LIVENESS_FAILED else "identified" if identity_id else "unknown"
    if outcome == "unknown" and not camera.record_unknown:
        return None
    if identity_id is not None:
        recent = Sighting.objects.select_for_update().filter(
            camera_id=camera_id, identity_id=identity_id,
            last_seen__gte=seen.first_seen - timedelta(seconds=settings.FACEREC_SIGHTING_COOLDOWN_S),
        ).order_by("-last_seen").first()
        if recent is not None:
            _extend(recent, seen)
            metrics.SIGHTINGS.labels(outcome="extended").inc()
            return recent
    sighting = Sighting(camera=camera, identity_id=identity_id, reason=reason, threshold=threshold,
                        score=None if decision.score is None else round(float(decision.score), 4),
                        decided_by=decision.decided_by, first_seen=seen.first_seen, last_seen=seen.last_seen,
                        frames_seen=seen.frames_seen, liveness=decision.liveness)
    if seen.crop is not None and (identity_id is not None or camera.keep_unknown_crops):
        sighting.crop.save("crop", ContentFile(png_bytes(seen.crop)), save=False)  # encrypted by private_storage
        crops.append(sighting.crop.name)
        if identity_id is None:
            sighting.crop_expires_at = timezone.now() + timedelta(hours=settings.FACEREC_UNKNOWN_CROP_HOURS)
    sighting.save()
    audit.record(action="camera.sighting", target=sighting, details={
        "camera_id": camera_id, "identity_id": identity_id, "outcome": outcome, "reason": reason,
        "score": sighting.score, "threshold": threshold})
    emit(EVENTS[outcome], _event_payload(sighting), identity_id=identity_id)
    metrics.SIGHTINGS.labels(outcome=outcome).inc()
    return sighting


def _extend(sighting: Sighting, seen: SeenTrack) -> None:
    Sighting.objects.filter(pk=sighting.pk).update(
        last_seen=Greatest("last_seen", seen.last_seen), frames_seen=sighting.frames_seen + seen.frames_seen,
        tracks=sighting.tracks + 1)


def extend_sighting(sighting_id: int, *, last_seen: datetime, frames_seen: int) -> None:
    """A decided track still in view: its sighting's last_seen follows it (frames counted on top)."""
    Sighting.objects.filter(pk=sighting_id).update(last_seen=Greatest("last_seen", last_seen),
                                                   frames_seen=Greatest("frames_seen", frames_seen))


def delete_sightings(sightings) -> int:
    """Rows now (in the caller's transaction), their crops once it commits."""
    crops = [name for name in sightings.exclude(crop="").values_list("crop", flat=True) if name]
    count = sightings.delete()[0]
    transaction.on_commit(lambda: delete_stored_files(crops))
    return count


@transaction.atomic
def expire_sightings(*, now=None) -> dict[str, int]:
    """Sightings last seen more than FACEREC_SIGHTING_DAYS ago go; unknown people's crops after
    FACEREC_UNKNOWN_CROP_HOURS."""
    now = now or timezone.now()
    old = Sighting.objects.filter(last_seen__lt=now - timedelta(days=settings.FACEREC_SIGHTING_DAYS))
    counts = {"sightings": delete_sightings(old), "crops": 0}
    due = Sighting.objects.select_for_update(skip_locked=True).filter(crop_expires_at__lt=now).exclude(crop="")
    crops = list(due.values_list("crop", flat=True))
    counts["crops"] = Sighting.objects.filter(pk__in=list(due.values_list("pk", flat=True))).update(
        crop="", crop_expires_at=None)
    transaction.on_commit(lambda: delete_stored_files(crops))
    if any(counts.values()):
        audit.record(action="sighting.expire", details={**counts, "days": settings.FACEREC_SIGHTING_DAYS,
                                                        "unknown_crop_hours": settings.FACEREC_UNKNOWN_CROP_HOURS})
    return counts


@transaction.atomic
def forget_identity(identity_id: int) -> int:
    """Erasure: that person's sightings, and their crops, go. Called inside erase_identity's transaction."""
    return delete_sightings(Sighting.objects.filter(identity_id=identity_id))
