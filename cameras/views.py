"""The camera pages (/cameras/, manage_cameras): the list with each camera's state, registering one, and
one camera's page whose latest sightings refresh in place (cameras/static/cameras/live.js fetches the
`live` fragment: the CSP allows scripts from this site only, none inline)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import capability_required
from cameras import selectors
from cameras.forms import CameraForm
from cameras.services import cameras as services
from core.errors import DomainError
from core.forms import add_domain_error
from identities.media import private_file_response

LATEST = 20  # sightings on a camera's page
REFRESH_EVERY_S = 2


@capability_required("manage_cameras")
@require_GET
def camera_list(request):
    return render(request, "cameras/list.html", {"cameras": selectors.cameras()})


@capability_required("manage_cameras")
@require_http_methods(["GET", "POST"])
def camera_new(request):
    form = CameraForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            camera = services.create_camera(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Camera {camera.name} registered; a watcher picks it up within seconds.")
            return redirect("cameras:detail", pk=camera.pk)
    return render(request, "cameras/form.html", {"form": form})


def _latest(request, camera) -> list:
    rows = list(selectors.sightings_of(camera)[:LATEST])
    for row in rows:
        row.crop_visible = selectors.sees_crop(request.user, row)
    return rows


@capability_required("manage_cameras")
@require_http_methods(["GET", "POST"])
def camera_detail(request, pk: int):
    camera = get_object_or_404(selectors.cameras(), pk=pk)
    initial = {f: getattr(camera, f) for f in services.SETTINGS_FIELDS}
    form = CameraForm(request.POST or None, initial=initial, changing=True)
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        if not values.get("url"):
            values.pop("url", None)
        try:
            services.update_camera(camera=camera, actor=request.user, **values)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Saved: its watcher takes the change within seconds.")
            return redirect("cameras:detail", pk=pk)
    return render(request, "cameras/detail.html", {
        "camera": camera, "form": form, "sightings": _latest(request, camera), "refresh_s": REFRESH_EVERY_S})


@capability_required("manage_cameras")
@require_GET
def camera_live(request, pk: int):
    """The part of the camera's page that refreshes: its state and latest sightings (an HTML fragment)."""
    camera = get_object_or_404(selectors.cameras(), pk=pk)
    response = render(request, "cameras/_live.html", {"camera": camera, "sightings": _latest(request, camera)})
    response["Cache-Control"] = "no-store"
    return response


@capability_required("manage_cameras")
@require_POST
def camera_delete(request, pk: int):
    camera = get_object_or_404(selectors.cameras(), pk=pk)
    services.delete_camera(camera=camera, actor=request.user)
    messages.success(request, f"Camera {camera.name} deleted, with its sightings.")
    return redirect("cameras:list")


@capability_required("manage_cameras")
@require_GET
def sighting_crop(request, pk: int, sighting_id: int):
    camera = get_object_or_404(selectors.cameras(), pk=pk)
    sighting = get_object_or_404(selectors.sightings_of(camera), pk=sighting_id)
    if not selectors.sees_crop(request.user, sighting):
        raise Http404("no crop you may see")
    return private_file_response(sighting.crop, content_type="image/png", label=f"crop of {sighting}")
