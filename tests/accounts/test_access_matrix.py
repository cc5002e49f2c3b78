"""The role × endpoint matrix, generated from the URL configuration.

Every route the site serves (pages, API, the Django admin) is requested with every HTTP
method by every role (accounts.roles) plus anonymous, a signed-in user without a role and
an api_client account trying a session. `POLICY` says who may use what; a route missing
from it fails the test, so a new endpoint cannot slip past. The routes' objects are all
seeded with one id (9001) and belong to the admin, so an operator (who sees only the
people they enrolled) is refused them too.

Denied means 401, 403, 404 (hidden), 405 or a redirect to a login page; allowed means
anything else (a 400 for the empty body is fine: the request got past the permission
check). Every response is also searched for the seeded photo bytes, crop bytes and
embedding values: only the two photo views may return the first two, to those allowed,
and nothing ever returns an embedding.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from PIL import Image

from accounts.models import ApiToken
from cameras.models import Camera
from evaluation.models import EvaluationReport
from evaluation.services import report_dir
from identities.models import Consent, EnrollmentImage, Identity
from recognition.models import FaceEmbedding
from reenrollment.models import ReenrollmentRequest
from tests.tokens import token_for
from tests.users import make_user
from videos.models import Video, VideoTrack
from webhooks import secret_store
from webhooks.models import Delivery, Event, Subscription

SEEDED_ID = 9001
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

ANONYMOUS, NO_ROLE = "anonymous", "no_role"
ADMIN, REVIEWER, OPERATOR = "admin", "reviewer", "operator"
API_CLIENT, API_CLIENT_SESSION = "api_client", "api_client_session"  # by token / by a (forbidden) session
ROLES = (ANONYMOUS, NO_ROLE, API_CLIENT_SESSION, API_CLIENT, REVIEWER, OPERATOR, ADMIN)  # admin last: erases

EVERYONE = frozenset(ROLES)
ADMIN_ONLY = frozenset({ADMIN})
READ_PEOPLE = frozenset({ADMIN, REVIEWER})  # the seeded person is not the operator's
REVIEW = frozenset({ADMIN, REVIEWER})
RECOGNISE = frozenset({ADMIN, OPERATOR, API_CLIENT})
RECOGNISE_PAGES = frozenset({ADMIN, OPERATOR})  # api_client accounts have no pages
ENROLL = frozenset({ADMIN, OPERATOR})
FACES = frozenset({ADMIN, REVIEWER})

# route -> method -> roles allowed. Methods not listed must be refused (or 405) for everyone.
POLICY: dict[str, dict[str, frozenset[str]]] = {
    # site
    "home": {"GET": EVERYONE},
    "healthz": {"GET": EVERYONE},
    # Opened by the network (loopback) or a bearer token, not a role: tests/monitoring/test_metrics.py.
    "metrics": {"GET": EVERYONE},
    "login": {"GET": EVERYONE, "POST": EVERYONE},
    "logout": {"POST": EVERYONE},
    "api-schema": {"GET": EVERYONE},
    "api-docs": {"GET": EVERYONE},
    "api-job-status": {"GET": ADMIN_ONLY},  # the seeded photo's job: its person is not the operator's
    # people, consent, photos (API)
    "identities_api:identity-list": {"GET": frozenset({ADMIN, REVIEWER, OPERATOR}), "POST": ENROLL},
    "identities_api:identity-detail": {"GET": READ_PEOPLE, "PATCH": ADMIN_ONLY, "DELETE": ADMIN_ONLY},
    "identities_api:identity-consents": {"GET": READ_PEOPLE, "POST": ADMIN_ONLY},
    "identities_api:identity-photos": {"POST": ADMIN_ONLY},
    "identities_api:consent-withdraw": {"POST": ADMIN_ONLY},
    "identities_api:photo-list": {"GET": frozenset({ADMIN, REVIEWER, OPERATOR})},
    "identities_api:photo-approve-bulk": {"POST": REVIEW},
    "identities_api:photo-reject-bulk": {"POST": REVIEW},
    "identities_api:photo-detail": {"GET": READ_PEOPLE},
    "identities_api:photo-approve": {"POST": REVIEW},
    "identities_api:photo-reject": {"POST": REVIEW},
    "identities_api:photo-face": {"POST": REVIEW},
    "audit_api:audit-log": {"GET": ADMIN_ONLY},
    # recognition (API)
    "recognition_api:identify": {"POST": RECOGNISE},
    "recognition_api:verify": {"POST": RECOGNISE},
    "recognition_api:identify-slash": {"POST": RECOGNISE},
    "recognition_api:verify-slash": {"POST": RECOGNISE},
    # reports, re-enrollment, tokens (API)
    "evaluation_api:report-list": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "evaluation_api:report-detail": {"GET": ADMIN_ONLY},
    "evaluation_api:report-plot": {"GET": ADMIN_ONLY},
    "evaluation_api:report-apply-threshold": {"POST": ADMIN_ONLY},
    "evaluation_api:report-apply-threshold-slash": {"POST": ADMIN_ONLY},
    "reenrollment_api:request-list": {"GET": ADMIN_ONLY},
    "reenrollment_api:request-detail": {"GET": ADMIN_ONLY},
    "reenrollment_api:request-dismiss": {"POST": ADMIN_ONLY},
    "reenrollment_api:request-dismiss-slash": {"POST": ADMIN_ONLY},
    "accounts_api:token-list": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "accounts_api:token-detail": {"GET": ADMIN_ONLY},
    "accounts_api:token-revoke": {"POST": ADMIN_ONLY},
    "accounts_api:token-revoke-slash": {"POST": ADMIN_ONLY},
    "accounts_api:api-client-create": {"POST": ADMIN_ONLY},
    "webhooks_api:subscription-list": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "webhooks_api:subscription-detail": {"GET": ADMIN_ONLY, "PATCH": ADMIN_ONLY, "DELETE": ADMIN_ONLY},
    "webhooks_api:rotate-secret": {"POST": ADMIN_ONLY},
    "webhooks_api:resume": {"POST": ADMIN_ONLY},
    "webhooks_api:delivery-list": {"GET": ADMIN_ONLY},
    "webhooks_api:replay": {"POST": ADMIN_ONLY},
    "cameras_api:camera-list": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "cameras_api:camera-detail": {"GET": ADMIN_ONLY, "PATCH": ADMIN_ONLY, "DELETE": ADMIN_ONLY},
    "cameras_api:sighting-list": {"GET": ADMIN_ONLY},
    "cameras_api:sighting-crop": {"GET": ADMIN_ONLY},
    # videos (API): the seeded video is the admin's upload, and only its uploader or view_identities sees it
    "videos_api:video-list": {"GET": RECOGNISE, "POST": RECOGNISE},
    "videos_api:video-detail": {"GET": ADMIN_ONLY},
    "videos_api:video-tracks": {"GET": ADMIN_ONLY},
    "videos_api:video-track-crop": {"GET": ADMIN_ONLY},
    "videos_api:video-export-json": {"GET": ADMIN_ONLY},
    "videos_api:video-export-csv": {"GET": ADMIN_ONLY},
    "videos_api:video-export-vtt": {"GET": ADMIN_ONLY},
    # pages
    "identities:list": {"GET": frozenset({ADMIN, REVIEWER, OPERATOR})},
    "identities:create": {"GET": ENROLL, "POST": ENROLL},
    "identities:review": {"GET": REVIEW, "POST": REVIEW},
    "identities:detail": {"GET": READ_PEOPLE},
    "identities:add_photos": {"POST": ADMIN_ONLY},
    "identities:add_consent": {"POST": ADMIN_ONLY},
    "identities:erase": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "identities:withdraw_consent": {"POST": ADMIN_ONLY},
    "identities:photo_crop": {"GET": FACES},
    "identities:photo_original": {"GET": FACES},
    "identities:photo_faces": {"GET": REVIEW, "POST": REVIEW},
    "recognition:identify": {"GET": RECOGNISE_PAGES, "POST": RECOGNISE_PAGES},
    "recognition:verify": {"GET": RECOGNISE_PAGES, "POST": RECOGNISE_PAGES},
    "recognition:kiosk": {"GET": RECOGNISE_PAGES},
    "recognition:kiosk_frame": {"POST": RECOGNISE_PAGES},
    "videos:list": {"GET": RECOGNISE_PAGES, "POST": RECOGNISE_PAGES},
    "videos:detail": {"GET": ADMIN_ONLY},
    "videos:export": {"GET": ADMIN_ONLY},
    "videos:track_crop": {"GET": ADMIN_ONLY},
    "evaluation:list": {"GET": ADMIN_ONLY},
    "evaluation:create": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "evaluation:detail": {"GET": ADMIN_ONLY},
    "evaluation:apply_threshold": {"POST": ADMIN_ONLY},
    "evaluation:plot": {"GET": ADMIN_ONLY},
    "evaluation:export_json": {"GET": ADMIN_ONLY},
    "evaluation:export_csv": {"GET": ADMIN_ONLY},
    "reenrollment:list": {"GET": ADMIN_ONLY},
    "reenrollment:dismiss": {"POST": ADMIN_ONLY},
    "accounts:tokens": {"GET": ADMIN_ONLY},
    "accounts:token-new": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "accounts:token-revoke": {"POST": ADMIN_ONLY},
    "webhooks:list": {"GET": ADMIN_ONLY},
    "webhooks:new": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "webhooks:detail": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "webhooks:rotate": {"POST": ADMIN_ONLY},
    "webhooks:resume": {"POST": ADMIN_ONLY},
    "webhooks:delete": {"POST": ADMIN_ONLY},
    "webhooks:replay": {"POST": ADMIN_ONLY},
    "cameras:list": {"GET": ADMIN_ONLY},
    "cameras:new": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "cameras:detail": {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
    "cameras:live": {"GET": ADMIN_ONLY},
    "cameras:delete": {"POST": ADMIN_ONLY},
    "cameras:sighting_crop": {"GET": ADMIN_ONLY},
    # The Django admin (every route under admin:, including third-party models') is for the admin role
    # (is_staff); its own login page is public.
    "admin:login": {"GET": EVERYONE, "POST": EVERYONE},
}
ADMIN_SITE_METHODS = ("GET", "POST")

# Values for URL parameters, by parameter name; ints are the one seeded id.
_STR_VALUES = {"task_id": f"enroll-photo-{SEEDED_ID}", "name": "roc", "url": "no-such-page/", "fmt": "csv"}


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the pattern for an unnamed route
    url: str
    is_api: bool
    is_admin_site: bool

    def policy(self) -> dict[str, frozenset[str]]:
        if self.key in POLICY:
            return POLICY[self.key]
        if self.is_admin_site:
            return {method: ADMIN_ONLY for method in ADMIN_SITE_METHODS}
        raise AssertionError(f"route {self.key} ({self.url}) is not in the access matrix: add it to POLICY")


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            full = prefix + str(pattern.pattern)
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or full)
            yield name, full


CONTENT_TYPE_SLOT = "{content_type_id}"  # a database id: filled in per request, once the database exists


def _concrete_url(pattern: str) -> str:
    """A URL of this route's pattern (path converters or a regex), with seeded values."""

    def route_value(match: re.Match) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if name == "content_type_id":
            return CONTENT_TYPE_SLOT
        if converter == "int":
            return str(SEEDED_ID)
        return _STR_VALUES.get(name, str(SEEDED_ID))

    def regex_value(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        if "|" in body:
            return body.split("|")[0]  # e.g. the admin's app_label alternatives
        return _STR_VALUES.get(name, str(SEEDED_ID))

    url = re.sub(r"\(\?P<(\w+)>([^)]*)\)", regex_value, pattern)  # regex groups first: they contain <name>
    url = re.sub(r"<(?:(\w+):)?(\w+)>", route_value, url)
    return "/" + url.replace("^", "").replace("$", "").replace("\\", "")


def all_routes() -> list[Route]:
    routes = []
    for key, pattern in _walk(get_resolver().url_patterns):
        url = _concrete_url(pattern)
        routes.append(Route(key=key, url=url, is_api=url.startswith("/api/"), is_admin_site=url.startswith("/admin/")))
    return routes


ROUTES = all_routes()


def test_every_route_is_in_the_matrix_and_every_entry_is_a_route():
    keys = {route.key for route in ROUTES}
    missing = [route.key for route in ROUTES if route.key not in POLICY and not route.is_admin_site]
    assert not missing, f"routes not in the access matrix: {missing}"
    stale = set(POLICY) - keys
    assert not stale, f"POLICY entries that match no route: {stale}"
    # Each concrete URL reaches its own view (the generator tests what it claims to).
    for route in ROUTES:
        if CONTENT_TYPE_SLOT not in route.url:
            match = resolve(route.url)
            assert (match.view_name == route.key) or not match.url_name, (route.key, route.url, match.view_name)
    # The matrix is as large as the closing note says: print it for the record.
    print(f"access matrix: {len(ROUTES)} routes x {len(METHODS)} methods x {len(ROLES)} roles")


# --- the seeded world --------------------------------------------------------------------


def _noise_png(seed: int, size: int = 48) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


ORIGINAL_BYTES, CROP_BYTES = _noise_png(1), _noise_png(2)
VIDEO_CROP_BYTES = _noise_png(4)  # an identified track's best face
VIDEO_CROP_ROUTES = ("videos:track_crop", "videos_api:video-track-crop")
SIGHTING_CROP_BYTES = _noise_png(5)  # an identified person's best face at a camera
SIGHTING_CROP_ROUTES = ("cameras_api:sighting-crop", "cameras:sighting_crop")
EMBEDDING_VALUE = 0.0421337  # one distinctive component; its text must appear in no response
EMBEDDING_TEXTS = ("0.0421337", "0.042133", "0.04213")


@dataclass
class World:
    users: dict
    tokens: dict
    content_type_id: int


@pytest.fixture
def world(db, settings) -> World:
    # No passwords (tests sign in with force_login): hashing five would cost seconds per route.
    admin = make_user("m-admin", ADMIN, password=None)
    users = {ADMIN: admin, NO_ROLE: make_user("m-nobody", password=None)}
    for role, username in [(REVIEWER, "m-reviewer"), (OPERATOR, "m-operator"), (API_CLIENT, "m-client")]:
        users[role] = make_user(username, role, password=None)
    users[API_CLIENT_SESSION] = users[API_CLIENT]
    # The operator's own person exists, but the seeded one (9001) is the admin's.
    Identity.objects.create(display_name="Operator's person", created_by=users[OPERATOR])
    person = Identity.objects.create(pk=SEEDED_ID, display_name="Seeded Person", created_by=admin)
    consent = Consent.objects.create(pk=SEEDED_ID, identity=person, given_by_name="Seeded Person",
                                     purpose="building access", wording_version="v1", recorded_by=admin)
    photo = EnrollmentImage(pk=SEEDED_ID, identity=person, consent=consent, sha256="0" * 64,
                            content_type="image/png", uploaded_by=admin,
                            status=EnrollmentImage.Status.AWAITING_REVIEW, face_box=[1, 1, 40, 40],
                            detection_probability=0.99)
    photo.file.save("original.png", ContentFile(ORIGINAL_BYTES), save=False)
    photo.crop.save("crop.png", ContentFile(CROP_BYTES), save=False)
    photo.save()
    FaceEmbedding.objects.create(image=photo, identity=person, vector=[EMBEDDING_VALUE] * 512,
                                 model_name="test", model_version="test", active=True)
    report = EvaluationReport.objects.create(pk=SEEDED_ID, kind=EvaluationReport.Kind.ENROLLED,
                                             status=EvaluationReport.Status.DONE, created_by=admin,
                                             plots={"roc": "roc.png"}, metrics={})
    folder = report_dir(report.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "roc.png").write_bytes(_noise_png(3))
    ReenrollmentRequest.objects.create(pk=SEEDED_ID, identity=person,
                                       reason=ReenrollmentRequest.Reason.choices[0][0],
                                       due_at=timezone.now() + timedelta(days=30))
    video = Video.objects.create(pk=SEEDED_ID, uploaded_by=admin, original_name="seeded.mp4",
                                 status=Video.Status.DONE, duration_s=2.0, sample_fps=5.0, threshold=0.5)
    track = VideoTrack(video=video, number=SEEDED_ID, identity=person, score=0.9, decided_by="score",
                       first_seen_s=0.2, last_seen_s=1.0, frames_seen=5, best_time_s=0.6, best_box=[1, 1, 40, 40])
    track.crop.save("crop.png", ContentFile(VIDEO_CROP_BYTES), save=False)
    track.save()
    tokens = {API_CLIENT: token_for(users[API_CLIENT])}
    token_for(admin, name="seeded")
    ApiToken.objects.filter(user=admin).update(id=SEEDED_ID)
    seed_webhook(admin)
    seed_camera(admin, person)
    return World(users=users, tokens=tokens,
                 content_type_id=ContentType.objects.get_for_model(Identity).pk)


def seed_webhook(admin) -> None:
    """A subscription (9001) with one delivered event (delivery 9001), as tests/api_fuzz seeds too."""
    subscription = Subscription.objects.create(pk=SEEDED_ID, url="https://hooks.invalid/facerec",
                                               event_types=["photo.approved"], created_by=admin,
                                               secret_encrypted=secret_store.encrypt(secret_store.new_secret()))
    event = Event.objects.create(type="photo.approved", payload={"photo_id": SEEDED_ID}, identity_id=SEEDED_ID)
    Delivery.objects.create(pk=SEEDED_ID, subscription=subscription, event=event, status="delivered",
                            next_attempt_at=timezone.now())


def seed_camera(admin, person) -> None:
    """A camera (9001) with credentials in its URL and one sighting (9001) of the seeded person, with a crop."""
    from cameras.models import Sighting
    from cameras.services.cameras import create_camera

    camera = create_camera(url="rtsp://u:camera-secret@192.0.2.1/live", name="seeded", actor=admin)
    Camera.objects.filter(pk=camera.pk).update(id=SEEDED_ID)
    now = timezone.now()
    sighting = Sighting(pk=SEEDED_ID, camera_id=SEEDED_ID, identity=person, score=0.9, threshold=0.5,
                        first_seen=now, last_seen=now, frames_seen=5)
    sighting.crop.save("crop.png", ContentFile(SIGHTING_CROP_BYTES), save=False)
    sighting.save()


def _request(world: World, route: Route, method: str, role: str):
    client = Client(raise_request_exception=False)
    headers = {}
    if role == API_CLIENT:
        if route.is_api:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {world.tokens[API_CLIENT]}"
        else:
            client.force_login(world.users[API_CLIENT])  # a session the login page would refuse
    elif role != ANONYMOUS:
        client.force_login(world.users[role])
    url = route.url.replace(CONTENT_TYPE_SLOT, str(world.content_type_id))
    if method == "GET":
        return client.get(url, **headers)
    if route.is_api:
        return client.generic(method, url, data=b"{}", content_type="application/json", **headers)
    return client.generic(method, url, data=b"", content_type="application/x-www-form-urlencoded", **headers)


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _is_login_redirect(response) -> bool:
    return response.status_code in (301, 302) and "/login/" in response.get("Location", "")


def _denied(response) -> bool:
    return response.status_code in (401, 403, 404, 405) or _is_login_redirect(response)


@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
def test_route_answers_only_the_roles_allowed(route: Route, world: World):
    policy = route.policy()
    problems = []
    for method in METHODS:
        if route.is_admin_site and method not in ADMIN_SITE_METHODS:
            continue
        allowed = policy.get(method, frozenset())
        # Refused roles first, so nothing the allowed ones change (an erasure) hides a leak.
        for role in sorted(ROLES, key=lambda r: (r in allowed, ROLES.index(r))):
            response = _request(world, route, method, role)
            body = _body(response)
            status = response.status_code
            if role in allowed and route.is_admin_site:
                # Inside, the admin's own rules answer: a missing object (404), an action it does not
                # offer (403), a method a view lacks (405). Only being sent to log in is a refusal.
                ok = status < 500 and not _is_login_redirect(response)
            elif role in allowed:
                ok = status not in (401, 403, 404, 405) and not _is_login_redirect(response)
                if status >= 500 and route.key != "healthz":  # healthz says 503 when no worker is up
                    ok = False
            else:
                ok = _denied(response) or (route.is_admin_site and response.get("Location") == "/admin/")
            if not ok:
                problems.append(f"{method} {route.url} as {role}: {status} "
                                f"({'should be allowed' if role in allowed else 'should be refused'})")
            if ORIGINAL_BYTES in body and not (route.key == "identities:photo_original" and role in allowed):
                problems.append(f"{method} {route.url} as {role}: returned the face photo")
            if CROP_BYTES in body and not (route.key == "identities:photo_crop" and role in allowed):
                problems.append(f"{method} {route.url} as {role}: returned the face crop")
            if VIDEO_CROP_BYTES in body and not (route.key in VIDEO_CROP_ROUTES and role in allowed):
                problems.append(f"{method} {route.url} as {role}: returned a video track's face crop")
            if SIGHTING_CROP_BYTES in body and not (route.key in SIGHTING_CROP_ROUTES and role in allowed):
                problems.append(f"{method} {route.url} as {role}: returned a sighting's face crop")
            if b"camera-secret" in body:
                problems.append(f"{method} {route.url} as {role}: returned a camera's stream credentials")
            if any(text.encode() in body for text in EMBEDDING_TEXTS):
                problems.append(f"{method} {route.url} as {role}: returned embedding values")
    assert not problems, "\n".join(problems)


def test_the_photo_views_serve_the_seeded_bytes_to_those_allowed(world: World):
    """The matrix's byte search is not vacuous: allowed roles do get the exact photo and crop."""
    by_key = {route.key: route for route in ROUTES}
    for role in FACES:
        original = _request(world, by_key["identities:photo_original"], "GET", role)
        crop = _request(world, by_key["identities:photo_crop"], "GET", role)
        assert _body(original) == ORIGINAL_BYTES and _body(crop) == CROP_BYTES
    for key in VIDEO_CROP_ROUTES:
        assert _body(_request(world, by_key[key], "GET", ADMIN)) == VIDEO_CROP_BYTES
    for key in SIGHTING_CROP_ROUTES:
        assert _body(_request(world, by_key[key], "GET", ADMIN)) == SIGHTING_CROP_BYTES
