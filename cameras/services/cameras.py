"""Registering cameras (admins, capability manage_cameras): create, change, delete, each audited.

The URL is sealed at once; audit entries and answers carry only its redacted form."""

from __future__ import annotations

from django.db import transaction

from audit import services as audit
from cameras import stream_urls
from cameras.models import Camera
from cameras.services.sightings import delete_sightings
from core.errors import DomainError

# Fields a caller may set besides the URL (the API's and the page form's).
SETTINGS_FIELDS = ("name", "enabled", "sample_fps", "min_face_px", "liveness", "record_unknown",
                   "keep_unknown_crops")
MAX_SAMPLE_FPS = 30.0


class DuplicateCameraName(DomainError):
    code = "duplicate_name"
    status = 400


def _check(values: dict, *, pk: int | None = None) -> None:
    fps = values.get("sample_fps")
    if fps is not None and not 0 < fps <= MAX_SAMPLE_FPS:
        raise DomainError(f"sample_fps must be over 0 and at most {MAX_SAMPLE_FPS:g}.", field="sample_fps")
    name = values.get("name")
    if name is not None and Camera.objects.filter(name=name).exclude(pk=pk).exists():
        raise DuplicateCameraName(f"A camera is named {name!r} already.", field="name")


def _audited(camera: Camera) -> dict:
    return {"name": camera.name, "url": camera.url_display, "enabled": camera.enabled,
            "sample_fps": camera.sample_fps, "min_face_px": camera.min_face_px, "liveness": camera.liveness,
            "record_unknown": camera.record_unknown, "keep_unknown_crops": camera.keep_unknown_crops}


@transaction.atomic
def create_camera(*, url: str, actor=None, **values) -> Camera:
    url = stream_urls.check(url)
    _check(values)
    camera = Camera(url_sealed=stream_urls.sealed(url), url_display=stream_urls.redact(url), created_by=actor,
                    **{k: v for k, v in values.items() if k in SETTINGS_FIELDS})
    camera.save()
    audit.record(action="camera.create", actor=actor, target=camera, details=_audited(camera))
    return camera


@transaction.atomic
def update_camera(*, camera: Camera, actor=None, url: str | None = None, **values) -> Camera:
    """Change what is given; a new URL (or disabling) makes its watcher let it go at its next heartbeat."""
    camera = Camera.objects.select_for_update().get(pk=camera.pk)
    _check(values, pk=camera.pk)
    for name in SETTINGS_FIELDS:
        if name in values:
            setattr(camera, name, values[name])
    if url is not None:
        url = stream_urls.check(url)
        camera.url_sealed, camera.url_display = stream_urls.sealed(url), stream_urls.redact(url)
    camera.save()
    audit.record(action="camera.update", actor=actor, target=camera,
                 details={**_audited(camera), "url_changed": url is not None})
    return camera


@transaction.atomic
def delete_camera(*, camera: Camera, actor=None) -> None:
    """The camera and its sightings go (their crops once this commits)."""
    count = delete_sightings(camera.sightings.all())
    audit.record(action="camera.delete", actor=actor, target=camera,
                 details={"name": camera.name, "sightings": count})
    camera.delete()
