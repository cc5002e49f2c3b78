"""Mixed load on the API: identify, verify and photo upload together from concurrent clients
(a benchmark, not a test; tests/bench/test_load_smoke.py runs a short one in the suite).

Against a running platform (`make run`):

    .venv/bin/python bench/load_bench.py [--url http://127.0.0.1:8000] [--token KEY | --username U --password P]

or on a stack of its own, started and stopped by the bench (`python -m facerec_site.run`
in a scratch var directory: its own database, broker, media and keys; only the model
weights are shared), with the API rate limits raised out of the way:

    .venv/bin/python bench/load_bench.py --start [--clients 8] [--duration 60] [--mix identify=4,verify=3,upload=1]

The account must be an admin (uploads, review and erasure are). Without --token or
--username it creates (or reuses) an admin `load-bench` with an API token in the
platform's database, as bench/api_bench.py does.

Set-up, not timed: a small gallery of real LFW people ("load-bench: <name>", three
approved photos each) is enrolled through the API unless it is there from an earlier
run (it is kept for the next one). Operations, on real LFW photos:

- identify: POST /api/v1/identify with a gallery person's unseen photo or a stranger's;
- verify: POST /api/v1/verify (identity mode), a gallery person's unseen photo against
  their identity or another's;
- upload: a new person "load-bench upload ..." with consent and one photo (three calls:
  POST identities/, consents/, photos/; timed together).

Afterwards it waits for the worker to process the uploaded photos, then erases the
people it created through the API (DELETE /api/v1/identities/<id>/). Prints a table of
operations/s, p50/p95/p99 latency and errors per operation and overall; any error (an
unexpected status, a refused connection, a photo whose processing failed) makes the exit
status 1. A 429 means the platform's rate limits were reached: raise FACEREC_API_RATE and
FACEREC_API_RECOGNITION_RATE there, or use --start.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.api_bench import photos as lfw_first_photos  # noqa: E402
from tests.shared_data import LFW_IMAGES  # noqa: E402

OPERATIONS = ("identify", "verify", "upload")
DEFAULT_MIX = "identify=4,verify=3,upload=1"
# LFW people with many photos: 1-3 are enrolled, 4 on are probes the gallery has not seen.
GALLERY_PEOPLE = ("George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld")
ENROLLED_PHOTOS = (1, 2, 3)
PROBE_PHOTOS = (4, 5, 6, 7, 8)
GALLERY_REF = "load-bench:"  # external_ref prefix of the gallery kept between runs
UPLOAD_NAME = "load-bench upload"
# Rates no load run reaches, for a stack the bench starts (names from facerec_site/settings.py).
UNTHROTTLED_ENV = {"FACEREC_API_RATE": "100000/min", "FACEREC_API_ANON_RATE": "100000/min",
                   "FACEREC_API_RECOGNITION_RATE": "100000/min"}
THROTTLED_HINT = ("429 = the platform's API rate limits were reached: raise FACEREC_API_RATE and "
                  "FACEREC_API_RECOGNITION_RATE in its settings (environment), or run with --start")
FINAL_PHOTO_STATES = {"awaiting_review", "approved", "rejected", "failed", "retired"}
REQUEST_TIMEOUT_S = 120


class SetupError(RuntimeError):
    """The platform refused a set-up or clean-up call: the run cannot go on (or end) as planned."""


def lfw_bytes(person: str, n: int) -> bytes:
    return (LFW_IMAGES / person / f"{person}_{n:04d}.jpg").read_bytes()


# --- talking to the API -----------------------------------------------------------------


class Api:
    """How to reach the platform as one account: each client thread gets a session of its own."""

    def __init__(self, url: str, *, token: str | None = None, cookies: dict[str, str] | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.cookies = cookies or {}

    @classmethod
    def login(cls, url: str, username: str, password: str) -> Api:
        """Sign in through the login page (session and CSRF cookies, as a browser would)."""
        url = url.rstrip("/")
        try:
            with requests.Session() as session:
                page = session.get(f"{url}/login/", timeout=30)
                # Secure cookies (the default with DEBUG off) would not go back over plain http:
                # they are passed on by name instead.
                cookies = {c.name: c.value for c in session.cookies}
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            if page.status_code != 200 or not found:
                raise SetupError(f"GET {url}/login/: {page.status_code}, no login form")
            answer = requests.post(f"{url}/login/", data={"username": username, "password": password,
                                                          "csrfmiddlewaretoken": found.group(1)},
                                   cookies=cookies, headers={"Referer": f"{url}/login/"}, allow_redirects=False,
                                   timeout=30)
        except requests.RequestException as exc:
            raise SetupError(f"signing in at {url}/login/: {exc}") from exc
        cookies.update({c.name: c.value for c in answer.cookies})
        if answer.status_code != 302 or "sessionid" not in cookies:
            why = " (locked out after failed logins)" if answer.status_code == 429 else ""
            raise SetupError(f"POST {url}/login/ as {username!r}: {answer.status_code}, not signed in{why}")
        return cls(url, cookies=cookies)

    def session(self) -> requests.Session:
        session = requests.Session()
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        for name, value in self.cookies.items():
            session.cookies.set(name, value)
        if "csrftoken" in self.cookies:  # session authentication checks CSRF on writes
            session.headers["X-CSRFToken"] = self.cookies["csrftoken"]
            session.headers["Referer"] = f"{self.url}/"
        return session


def local_admin_token(username: str = "load-bench") -> str:
    """An admin's API token, made in the platform's database (this checkout's settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")
    import django

    from facerec_site import embedded

    embedded.ensure_started()  # unless DATABASE_URL / CELERY_BROKER_URL are set
    django.setup()
    from django.contrib.auth import get_user_model
    from datetime import timedelta

    from django.utils import timezone

    from accounts.roles import ADMIN, assign_role, can
    from accounts.services import create_token

    user, _ = get_user_model().objects.get_or_create(username=username)
    if not can(user, "manage_identities"):  # it enrolls the gallery and erases it afterwards
        assign_role(user, ADMIN)
    # A token of its own per run, expiring in a day: no bench token outlives its use for long.
    return create_token(user=user, name="load-bench", expires_at=timezone.now() + timedelta(days=1), actor=None)[1]


def _call(session: requests.Session, method: str, url: str, expect: int, **kwargs) -> requests.Response:
    """A set-up or clean-up call; anything but `expect` stops the run with the platform's answer."""
    try:
        response = session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
    except requests.RequestException as exc:
        raise SetupError(f"{method} {url}: {exc}") from exc
    if response.status_code != expect:
        hint = f" ({THROTTLED_HINT})" if response.status_code == 429 else ""
        raise SetupError(f"{method} {url}: {response.status_code} {response.text[:300]}{hint}")
    return response


# --- the workload -----------------------------------------------------------------------


@dataclass
class Workload:
    """What the operations send: probes and the gallery's identity ids."""

    gallery: dict[str, int]  # LFW person -> identity id
    identify_probes: list[bytes]
    verify_claims: list[tuple[bytes, int]]  # (probe, claimed identity id): genuine and impostor, alternating
    upload_photos: list[tuple[str, bytes]]


def _await_photos(session: requests.Session, api: Api, photo_ids: list[int], timeout_s: float) -> dict[int, dict]:
    """Each photo's detail once the worker is done with it (or as it was at the deadline)."""
    done: dict[int, dict] = {}
    waiting = list(photo_ids)
    deadline = time.monotonic() + timeout_s
    while waiting:
        for photo_id in list(waiting):
            photo = _call(session, "GET", f"{api.url}/api/v1/photos/{photo_id}/", 200).json()
            done[photo_id] = photo
            if photo["status"] in FINAL_PHOTO_STATES:
                waiting.remove(photo_id)
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return done


def enroll_gallery(api: Api, people=GALLERY_PEOPLE, photos=ENROLLED_PHOTOS, timeout_s: float = 300) -> dict[str, int]:
    """The gallery's identity ids, enrolling (upload, processing, approval) whoever is missing."""
    base = f"{api.url}/api/v1"
    gallery: dict[str, int] = {}
    uploaded: dict[str, list[int]] = {}
    with api.session() as session:
        for person in people:
            ref = f"{GALLERY_REF}{person}"
            found = [i for i in _call(session, "GET", f"{base}/identities/", 200,
                                      params={"search": ref, "status": "active"}).json()["results"]
                     if i["external_ref"] == ref]
            if found and found[0]["active_templates"] > 0:
                gallery[person] = found[0]["id"]
                continue
            if found:  # left half-enrolled by an interrupted run: start that person again
                _call(session, "DELETE", f"{base}/identities/{found[0]['id']}/", 200)
            name = person.replace("_", " ")
            identity = _call(session, "POST", f"{base}/identities/", 201, json={
                "display_name": f"load-bench: {name}", "external_ref": ref,
                "notes": "Gallery of bench/load_bench.py; kept for its next run."}).json()
            _call(session, "POST", f"{base}/identities/{identity['id']}/consents/", 201, json={
                "given_by_name": name, "purpose": "load benchmark", "wording_version": "load-bench"})
            files = [("photos", (f"{person}_{n:04d}.jpg", lfw_bytes(person, n), "image/jpeg")) for n in photos]
            accepted = _call(session, "POST", f"{base}/identities/{identity['id']}/photos/", 202, files=files).json()
            gallery[person] = identity["id"]
            uploaded[person] = [photo["id"] for photo in accepted["photos"]]
        if uploaded:
            processed = _await_photos(session, api, [i for ids in uploaded.values() for i in ids], timeout_s)
            ready = [i for i, photo in processed.items() if photo["status"] == "awaiting_review"]
            if ready:
                _call(session, "POST", f"{base}/photos/approve/", 200, json={"ids": ready})
            for person, ids in uploaded.items():
                if not set(ids) & set(ready):
                    states = {i: (processed[i]["status"], processed[i]["rejection_reason"]) for i in ids}
                    raise SetupError(f"gallery: no photo of {person} could be approved: {states}")
    return gallery


def make_workload(gallery: dict[str, int], n_strangers: int = 40) -> Workload:
    people = list(gallery)
    probes = [(person, lfw_bytes(person, n)) for n in PROBE_PHOTOS for person in people]
    enrolled_firsts = {lfw_bytes(person, 1) for person in GALLERY_PEOPLE}
    # The first photo of the first LFW folders: people the gallery does not hold.
    strangers = [data for data in lfw_first_photos(n_strangers + len(GALLERY_PEOPLE))
                 if data not in enrolled_firsts][:n_strangers]
    # identify: a gallery person, a stranger, in turn; verify: a true claim, a false one, in turn.
    identify = [data for pair in zip([data for _, data in probes], itertools.cycle(strangers)) for data in pair]
    claims = []
    for k, (person, data) in enumerate(probes):
        claimed = person if (k + k // len(people)) % 2 == 0 else people[(people.index(person) + 1) % len(people)]
        claims.append((data, gallery[claimed]))
    uploads = [(f"upload_{k:03d}.jpg", data) for k, data in enumerate(strangers)]
    return Workload(gallery=gallery, identify_probes=identify, verify_claims=claims, upload_photos=uploads)


def parse_mix(text: str) -> dict[str, int]:
    """'identify=4,verify=3,upload=1' -> weights; operations not named get 0."""
    mix = dict.fromkeys(OPERATIONS, 0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name.strip() not in mix or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(f"{part!r}: expected <operation>=<weight>, operations {OPERATIONS}")
        mix[name.strip()] = int(weight)
    if not any(mix.values()):
        raise argparse.ArgumentTypeError("the mix names no operation with a weight above 0")
    return mix


def schedule(mix: dict[str, int]) -> list[str]:
    """One cycle of operations in the mix's proportions, spread out (smooth weighted round robin)."""
    weights = {op: w for op, w in mix.items() if w > 0}
    current = dict.fromkeys(weights, 0)
    cycle = []
    for _ in range(sum(weights.values())):
        for op, w in weights.items():
            current[op] += w
        op = max(current, key=current.get)
        current[op] -= sum(weights.values())
        cycle.append(op)
    return cycle


# --- the run ----------------------------------------------------------------------------


@dataclass
class OpStats:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # "503", "photos 409", "ConnectionError"...

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def count(self) -> int:
        return self.ok + sum(self.errors.values())


@dataclass
class LoadResult:
    clients: int
    wall_s: float
    ops: dict[str, OpStats]
    http_requests: int
    created_identities: list[int] = field(default_factory=list)
    uploaded_photos: list[int] = field(default_factory=list)
    processing: Counter = field(default_factory=Counter)  # final status (and reason) of uploaded photos
    cleanup_errors: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> Counter:
        """Every error of the run: per operation, processing failures, clean-up."""
        total = Counter()
        for name, stats in self.ops.items():
            total.update({f"{name} {key}": n for key, n in stats.errors.items()})
        total.update({f"processing {key}": n for key, n in self.processing.items()
                      if key.startswith(("failed", "unfinished"))})
        total.update({f"cleanup {key}": n for key, n in self.cleanup_errors.items()})
        return total


class _Client:
    """One simulated client: its own session, going round the schedule from its own offset."""

    def __init__(self, api: Api, workload: Workload, run_id: str, number: int):
        self.api, self.workload, self.run_id, self.number = api, workload, run_id, number
        self.session = api.session()
        self.base = f"{api.url}/api/v1"
        self.requests = 0
        self.identities: list[int] = []
        self.photos: list[int] = []

    def _post(self, path: str, expect: int, **kwargs) -> tuple[str | None, requests.Response | None]:
        """(error key or None, response)."""
        self.requests += 1
        try:
            response = self.session.post(f"{self.base}/{path}", timeout=REQUEST_TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            return type(exc).__name__, None
        return (None if response.status_code == expect else str(response.status_code)), response

    def identify(self, i: int) -> str | None:
        probe = self.workload.identify_probes[i % len(self.workload.identify_probes)]
        return self._post("identify", 200, files={"image": ("probe.jpg", probe, "image/jpeg")})[0]

    def verify(self, i: int) -> str | None:
        probe, identity_id = self.workload.verify_claims[i % len(self.workload.verify_claims)]
        return self._post("verify", 200, data={"identity_id": identity_id},
                          files={"image": ("probe.jpg", probe, "image/jpeg")})[0]

    def upload(self, i: int) -> str | None:
        name = f"{UPLOAD_NAME} {self.run_id}-{self.number}-{i}"
        error, response = self._post("identities/", 201, json={
            "display_name": name, "external_ref": f"load-bench-upload:{self.run_id}:{self.number}:{i}",
            "notes": "Made by bench/load_bench.py; erased at the end of its run."})
        if error:
            return f"identities {error}"
        identity_id = response.json()["id"]
        self.identities.append(identity_id)
        error, _ = self._post(f"identities/{identity_id}/consents/", 201, json={
            "given_by_name": name, "purpose": "load benchmark", "wording_version": "load-bench"})
        if error:
            return f"consents {error}"
        filename, data = self.workload.upload_photos[i % len(self.workload.upload_photos)]
        error, response = self._post(f"identities/{identity_id}/photos/", 202,
                                     files={"photos": (filename, data, "image/jpeg")})
        if error:
            return f"photos {error}"
        self.photos.extend(photo["id"] for photo in response.json()["photos"])
        return None


def run_load(api: Api, workload: Workload, *, mix: dict[str, int], clients: int, duration_s: float,
             ops_per_client: int | None = None) -> LoadResult:
    """`clients` threads, each going round the mix's schedule until `duration_s` has passed (or,
    with `ops_per_client`, until it did that many operations, `duration_s` then being a cap)."""
    cycle = schedule(mix)
    run_id = secrets.token_hex(3)
    ops = {op: OpStats() for op in OPERATIONS if mix.get(op)}
    lock = threading.Lock()
    workers = [_Client(api, workload, run_id, k) for k in range(clients)]
    deadline = time.monotonic() + duration_s

    def go(client: _Client) -> None:
        # Clients start at different places in the cycle, so every operation runs concurrently.
        offset = client.number * len(cycle) // clients
        for i in itertools.count():
            if time.monotonic() >= deadline or (ops_per_client is not None and i >= ops_per_client):
                break
            op = cycle[(offset + i) % len(cycle)]
            started = time.perf_counter()
            error = getattr(client, op)(i)
            elapsed = time.perf_counter() - started
            with lock:
                if error is None:
                    ops[op].latencies_s.append(elapsed)
                else:
                    ops[op].errors[error] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=go, args=(client,), name=f"load-client-{client.number}") for client in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall_s = time.monotonic() - started
    for client in workers:
        client.session.close()
    return LoadResult(clients=clients, wall_s=wall_s, ops=ops, http_requests=sum(c.requests for c in workers),
                      created_identities=[i for c in workers for i in c.identities],
                      uploaded_photos=[i for c in workers for i in c.photos])


def warm_up(api: Api, probes: list[bytes], clients: int) -> None:
    """Each web process loads the face models on its first call: make those calls before timing."""
    def one(k: int) -> None:
        with api.session() as session, contextlib.suppress(requests.RequestException):
            session.post(f"{api.url}/api/v1/identify", files={"image": ("warm.jpg", probes[k % len(probes)],
                                                                         "image/jpeg")}, timeout=REQUEST_TIMEOUT_S)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(max(2, clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def prepare(api: Api, *, clients: int, people=GALLERY_PEOPLE, photos=ENROLLED_PHOTOS, n_strangers: int = 40,
            timeout_s: float = 300) -> Workload:
    """The gallery enrolled and the web processes' models loaded (at the same time: the worker
    does the enrolling), then the probes."""
    warm = threading.Thread(target=warm_up, args=(api, [lfw_bytes(p, PROBE_PHOTOS[0]) for p in people], clients))
    warm.start()
    try:
        gallery = enroll_gallery(api, people=people, photos=photos, timeout_s=timeout_s)
    finally:
        warm.join()
    return make_workload(gallery, n_strangers=n_strangers)


def finish_uploads(api: Api, result: LoadResult, timeout_s: float = 300) -> None:
    """Wait for the worker to process the uploaded photos; note how each ended."""
    if not result.uploaded_photos:
        return
    with api.session() as session:
        processed = _await_photos(session, api, result.uploaded_photos, timeout_s)
    for photo in processed.values():
        state = photo["status"]
        if state not in FINAL_PHOTO_STATES:
            state = "unfinished"
        elif photo["rejection_reason"]:
            state = f"{state} ({photo['rejection_reason']})"
        result.processing[state] += 1


def erase_created(api: Api, result: LoadResult) -> None:
    """Erase every person the upload operation created (the right-to-erasure endpoint)."""
    with api.session() as session:
        for identity_id in result.created_identities:
            try:
                response = session.delete(f"{api.url}/api/v1/identities/{identity_id}/", timeout=REQUEST_TIMEOUT_S)
                if response.status_code != 200:
                    result.cleanup_errors[f"erase {response.status_code}"] += 1
            except requests.RequestException as exc:
                result.cleanup_errors[f"erase {type(exc).__name__}"] += 1


# --- report -----------------------------------------------------------------------------


def _row(name: str, stats: OpStats, wall_s: float) -> str:
    if stats.ok >= 2:
        q = [x * 1000 for x in statistics.quantiles(stats.latencies_s, n=100, method="inclusive")]
        p50, p95, p99 = f"{q[49]:.0f}", f"{q[94]:.0f}", f"{q[98]:.0f}"
    else:
        p50 = p95 = p99 = f"{stats.latencies_s[0] * 1000:.0f}" if stats.latencies_s else "-"
    errors = sum(stats.errors.values())
    detail = f" {dict(stats.errors.most_common())}" if errors else ""
    return f"| {name} | {stats.count} | {stats.ok / wall_s:.2f} | {p50} | {p95} | {p99} | {errors}{detail} |"


def report(result: LoadResult, mix: dict[str, int]) -> str:
    mix_text = ",".join(f"{op}={w}" for op, w in mix.items() if w)
    lines = [f"mixed load: {result.clients} clients, {result.wall_s:.0f} s, mix {mix_text}, "
             f"{result.http_requests} HTTP requests ({result.http_requests / result.wall_s:.1f}/s); "
             "upload = create person + consent + one photo (3 calls)", "",
             "| operation | ops | ok ops/s | p50 ms | p95 ms | p99 ms | errors |", "|---|---|---|---|---|---|---|"]
    lines += [_row(name, stats, result.wall_s) for name, stats in result.ops.items()]
    overall = OpStats(latencies_s=[x for s in result.ops.values() for x in s.latencies_s],
                      errors=sum((s.errors for s in result.ops.values()), Counter()))
    lines.append(_row("**all**", overall, result.wall_s))
    if result.processing:
        lines += ["", "uploaded photos, as the worker left them: "
                  + ", ".join(f"{n} {state}" for state, n in result.processing.most_common())]
    if result.created_identities:
        erased = len(result.created_identities) - sum(result.cleanup_errors.values())
        lines.append(f"erased the {erased} of {len(result.created_identities)} people the uploads created"
                     + (f"; clean-up errors: {dict(result.cleanup_errors)}" if result.cleanup_errors else ""))
    errors = result.errors
    detail = f" {dict(errors.most_common())}" if errors else " (as expected)"
    lines += ["", f"errors: {sum(errors.values())}{detail}"]
    if any(key.endswith(" 429") for key in errors):
        lines.append(THROTTLED_HINT)
    return "\n".join(lines)


# --- a stack of its own -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models_dir() -> Path:
    """The weights this checkout's platform uses (settings' default), so a scratch stack downloads nothing."""
    var_dir = Path(os.environ.get("FACEREC_VAR_DIR", REPO_ROOT / "var"))
    return Path(os.environ.get("FACEREC_MODELS_DIR", var_dir / "models")).resolve()


@contextlib.contextmanager
def started_platform(port: int = 0, timeout_s: float = 600) -> Iterator[tuple[str, str, str]]:
    """`python -m facerec_site.run` (embedded PostgreSQL and Valkey, migrate, worker, beat, gunicorn)
    in a scratch var directory, with the API rates raised; yields (url, admin username, password).
    The stack, its services and the directory are gone afterwards."""
    port = port or _free_port()
    scratch = Path(tempfile.mkdtemp(prefix="facerec-load-"))
    password = secrets.token_urlsafe(16)
    env = {**os.environ, **UNTHROTTLED_ENV,
           "FACEREC_VAR_DIR": str(scratch / "var"), "FACEREC_MODELS_DIR": str(_models_dir()),
           "FACEREC_HOST": "127.0.0.1", "FACEREC_PORT": str(port),
           "FACEREC_ADMIN_USERNAME": "load-bench", "FACEREC_ADMIN_PASSWORD": password,
           # Empty, not unset: settings then use the embedded services (a .env cannot bring them back).
           "DATABASE_URL": "", "CELERY_BROKER_URL": "", "CELERY_RESULT_BACKEND": "", "CACHE_URL": "",
           "PYTHONUNBUFFERED": "1"}
    for name in ("MEDIA_ROOT", "STATIC_ROOT", "FACEREC_CLASSIFIERS_DIR", "EMAIL_FILE_PATH", "FACEREC_PHOTO_KEYS"):
        env.pop(name, None)  # under the scratch var directory
    log_path = scratch / "platform.log"
    url = f"http://127.0.0.1:{port}"
    print(f"starting a platform of its own at {url} (log: {log_path})...", flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "facerec_site.run"], cwd=REPO_ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:  # healthz answers 200 once the database, the broker and a worker are there
            if proc.poll() is not None:
                raise SetupError(f"the platform exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SetupError(f"the platform was not healthy within {timeout_s:.0f} s:\n"
                                 f"{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield url, "load-bench", password
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # run.py stops its children and the services it started
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)


# --- main -------------------------------------------------------------------------------


def bench(api: Api, *, mix: dict[str, int], clients: int, duration_s: float, drain_timeout_s: float) -> LoadResult:
    started = time.monotonic()
    workload = prepare(api, clients=clients)
    print(f"gallery of {len(workload.gallery)} people ready and models warm ({time.monotonic() - started:.0f} s); "
          f"running {clients} clients for {duration_s:.0f} s...", flush=True)
    result = run_load(api, workload, mix=mix, clients=clients, duration_s=duration_s)
    finish_uploads(api, result, timeout_s=drain_timeout_s)
    erase_created(api, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=None, help="API token of an admin")
    parser.add_argument("--username", default=None, help="an admin, signed in through /login/")
    parser.add_argument("--password", default=os.environ.get("FACEREC_LOAD_PASSWORD"),
                        help="(or FACEREC_LOAD_PASSWORD)")
    parser.add_argument("--start", action="store_true", help="start a platform of its own (ignores --url)")
    parser.add_argument("--port", type=int, default=0, help="with --start; default: a free port")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX), help=f"default {DEFAULT_MIX}")
    parser.add_argument("--drain-timeout", type=float, default=300,
                        help="seconds to wait for the worker to process the uploads afterwards")
    args = parser.parse_args(argv)
    if args.username and not args.password:
        parser.error("--username needs --password (or FACEREC_LOAD_PASSWORD)")
    options = {"mix": args.mix, "clients": args.clients, "duration_s": args.duration,
               "drain_timeout_s": args.drain_timeout}
    try:
        if args.start:
            with started_platform(args.port) as (url, username, password):
                result = bench(Api.login(url, username, password), **options)
        else:
            if args.token:
                api = Api(args.url, token=args.token)
            elif args.username:
                api = Api.login(args.url, args.username, args.password)
            else:
                api = Api(args.url, token=local_admin_token())
            result = bench(api, **options)
    except SetupError as exc:
        print(f"load bench stopped: {exc}", file=sys.stderr)
        return 2
    print()
    print(report(result, args.mix))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
