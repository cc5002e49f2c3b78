"""The webcam kiosk: a page that films the person in front of it, and the endpoint its frames go to.

The page's script (static recognition/kiosk.js) sends a JPEG of the camera a few times a second
to `kiosk_frame`, on the session and its CSRF token like the other pages' forms. That endpoint
is the kiosk's own rather than the identify / verify API because a kiosk's frames are not
separate requests for an answer: the API audits and emits each call and is throttled to
FACEREC_API_RECOGNITION_RATE (30 a minute), while a kiosk needs several a second and must be
recorded once per stable decision (recognition.services.kiosk says why and how). The run's
streak is kept in the session (decisions only, no pixels). Errors answer core.api's JSON shape.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import can, capability_required
from core.api import error_body
from core.errors import DomainError
from identities.models import Identity
from recognition.forms import KioskForm
from recognition.selectors import verifiable_identities
from recognition.services import decode_probe
from recognition.services.kiosk import STABLE_FRAMES, identify_frame, verify_frame

# The site's Permissions-Policy (FACEREC_PERMISSIONS_POLICY) turns the camera off everywhere; this page alone
# may use it, for its own origin only.
KIOSK_PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=()"
MODES = ("identify", "verify")
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
SESSION_KEY = "kiosk_runs"
KEPT_RUNS = 4  # runs remembered per session (tabs); the oldest is forgotten first


def _identities(user):
    # The verify page's choice: everyone enrolled and active that this user may verify against.
    return verifiable_identities(user).filter(status=Identity.Status.ACTIVE).order_by("display_name", "id")


@capability_required("identify", "verify")
@require_GET
def kiosk(request):
    modes = [mode for mode in MODES if can(request.user, mode)]
    identities = _identities(request.user) if "verify" in modes else Identity.objects.none()
    form = KioskForm(modes=modes, identities=identities)
    response = render(request, "recognition/kiosk.html",
                      {"form": form, "modes": modes, "stable_frames": STABLE_FRAMES})
    response["Permissions-Policy"] = KIOSK_PERMISSIONS_POLICY
    return response


def _refuse(code: str, message: str, status: int, field: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, {field: [message]} if field else None), status=status)


@capability_required("identify", "verify")
@require_POST
def kiosk_frame(request):
    """One camera frame: POST multipart `frame` (an image), `mode`, `run` (the page's id for this run),
    `identity` (verify). Answers the faces to draw and the run's decision."""
    started = time.perf_counter()
    mode, run = request.POST.get("mode", ""), request.POST.get("run", "")
    if mode not in MODES:
        return _refuse("invalid", "mode must be identify or verify", 400, "mode")
    if not can(request.user, mode):
        return _refuse("permission_denied", f"the kiosk's {mode} mode needs the {mode} capability", 403)
    if not RUN_ID.fullmatch(run):
        return _refuse("invalid", "run must be 1-40 letters, digits, - or _", 400, "run")
    frame = request.FILES.get("frame")
    if frame is None:
        return _refuse("no_image", "send the camera frame as the file field `frame`", 400, "frame")
    if frame.size > settings.FACEREC_MAX_UPLOAD_BYTES:  # the page upload handler kept none of it
        return _refuse("too_large", f"the frame is larger than {settings.FACEREC_MAX_UPLOAD_BYTES} bytes", 413,
                       "frame")
    identity = None
    if mode == "verify":
        identity = _identities(request.user).filter(pk=_int_or_none(request.POST.get("identity"))).first()
        if identity is None:
            return _refuse("not_found", "choose a person you may verify against", 404, "identity")
    runs = dict(request.session.get(SESSION_KEY, {}))  # a copy: the session changes only with an answer
    key = f"{mode}:{identity.pk if identity else ''}:{run}"
    state = runs.pop(key, {})  # popped and put back last: the dict keeps the most recent runs at its end
    try:
        image = decode_probe(frame.read(), field="frame")
        answer = (identify_frame(image=image, state=state, actor=request.user) if identity is None
                  else verify_frame(image=image, identity=identity, state=state, actor=request.user))
    except DomainError as exc:
        return _refuse(exc.code, exc.message, exc.status, exc.field)
    runs[key] = state
    request.session[SESSION_KEY] = dict(list(runs.items())[-KEPT_RUNS:])
    response = JsonResponse(asdict(answer))  # the faces to draw and the run's decision
    # The view's share of the round trip (the body already received), for the page's and the bench's figures.
    response["Server-Timing"] = f"frame;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

