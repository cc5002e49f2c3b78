"""Watchers share the cameras: each camera is read by the one watcher holding its lease.

A lease is taken with SELECT ... FOR UPDATE SKIP LOCKED on cameras whose lease lapsed (or was never
taken), renewed by the holder's heartbeat every third of FACEREC_CAMERA_LEASE_S, and taken over by
another watcher once it lapses (its holder died). Watchers also balance: one holding more than its
share (enabled cameras over live watchers, rounded up) lets one go, for a watcher with room to take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from cameras.models import Camera, Watcher

State = Camera.State


@dataclass
class CameraReport:
    """What a watcher says of one camera it holds, at its heartbeat."""

    state: str
    last_frame_at: object = None  # datetime
    fps: float | None = None
    error_code: str = ""
    error_detail: str = ""
    reconnects: int = 0


def _lease_until(now):
    return now + timedelta(seconds=settings.FACEREC_CAMERA_LEASE_S)


def register_watcher(name: str) -> None:
    Watcher.objects.update_or_create(name=name, defaults={"heartbeat_at": timezone.now()})


def live_watchers(now=None) -> list[str]:
    now = now or timezone.now()
    return list(Watcher.objects.filter(heartbeat_at__gte=now - timedelta(seconds=settings.FACEREC_CAMERA_LEASE_S))
                .values_list("name", flat=True))


def heartbeat(name: str, reports: dict[int, CameraReport]) -> list[int]:
    """Renew this watcher's leases and record each held camera's state. Returns the cameras it still holds
    (enabled, and not taken over meanwhile: a watcher that was too slow to renew has lost them)."""
    now = timezone.now()
    Watcher.objects.update_or_create(name=name, defaults={"heartbeat_at": now})
    held = []
    for pk, report in reports.items():
        if Camera.objects.filter(pk=pk, lease_owner=name, enabled=True).update(
                lease_until=_lease_until(now), state=report.state, state_at=now, last_frame_at=report.last_frame_at,
                fps=report.fps, error_code=report.error_code[:50], error_detail=report.error_detail[:500],
                reconnects=report.reconnects):
            held.append(pk)
    return held


def claim_cameras(name: str, *, held: list[int], capacity: int) -> list[int]:
    """Cameras newly leased to this watcher: lapsed or never-taken leases of enabled cameras, up to its
    share and capacity. Two watchers claiming at once never get the same camera (SKIP LOCKED, then a
    lease the other sees as live)."""
    now = timezone.now()
    share = _share(name, now)
    room = min(capacity, share) - len(held)
    if room <= 0:
        return []
    with transaction.atomic():
        free = list(Camera.objects.select_for_update(skip_locked=True).filter(enabled=True).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=name)).exclude(
            pk__in=held).order_by("lease_until", "pk")[:room])
        for camera in free:
            taken_over = camera.lease_owner not in ("", name)
            camera.lease_owner, camera.lease_until = name, _lease_until(now)
            camera.state, camera.state_at, camera.error_code, camera.error_detail = State.CONNECTING, now, "", ""
            camera.save(update_fields=["lease_owner", "lease_until", "state", "state_at", "error_code",
                                       "error_detail"])
            if taken_over:
                audit.record(action="camera.takeover", target=camera, details={"watcher": name})
    return [camera.pk for camera in free]


def _share(name: str, now) -> int:
    watchers = set(live_watchers(now)) | {name}
    enabled = Camera.objects.filter(enabled=True).count()
    return math.ceil(enabled / len(watchers)) if enabled else 0


def excess(name: str, *, held: list[int]) -> list[int]:
    """Cameras this watcher should let go so that a watcher with room takes them (one at a time)."""
    share = _share(name, timezone.now())
    starving = Camera.objects.filter(enabled=True).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now())).exists()
    if len(held) <= share or starving:
        return []
    return sorted(held)[-1:]


def release_cameras(name: str, pks: list[int]) -> None:
    """Let cameras go (stopping, disabled, or over its share): another watcher may take them at once."""
    Camera.objects.filter(pk__in=pks, lease_owner=name).update(
        lease_owner="", lease_until=None, state=State.IDLE, state_at=timezone.now(), fps=None)


def retire_watcher(name: str, held: list[int]) -> None:
    release_cameras(name, held)
    Watcher.objects.filter(name=name).delete()


def forget_dead_watchers(*, older_than_s: float = 3600) -> int:
    return Watcher.objects.filter(heartbeat_at__lt=timezone.now() - timedelta(seconds=older_than_s)).delete()[0]
