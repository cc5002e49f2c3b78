"""The watcher process (`manage.py watch_cameras`, started by `make run`): it leases cameras, reads each
on a thread (recognition.pipeline.video.live), detects, embeds and tracks their sampled frames in
batches (the FaceFollower video files use), and decides each track once, as identify decides a face,
as soon as it has enough frames: a person standing in view is one sighting, extended while they stay.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import certifi
import numpy as np
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import close_old_connections

from cameras import metrics
from cameras.models import Camera
from cameras.services import leases, sightings
from cameras.stream_urls import opened
from core.db_errors import DATABASE_ERRORS
from core.errors import DomainError
from recognition.models import RecognitionThreshold
from recognition.pipeline.video.live import StreamReader
from recognition.pipeline.video.run import FaceFollower
from recognition.runtime import get_pipeline
from recognition.selectors import threshold_for
from recognition.services import current_gallery, decide_track

log = logging.getLogger(__name__)

# A track is decided once it was seen this often (0.4 s at 5 fps) with a usable face, or this later
# whatever its faces; a track that ends sooner is decided when it ends if seen at least MIN_FRAMES.
DECIDE_AFTER_FRAMES = 3
DECIDE_ANYWAY_FRAMES = 8
MIN_QUALITY = 0.15
MIN_FRAMES = 2
BATCH_FRAMES = 8
EXTEND_EVERY_S = 1.0
DATABASE_RETRY_S = 2.0
# Without the database a watcher stops reading once this share of a lease has passed since its last renewal.
LEASE_MARGIN = 0.6
URL_UNREADABLE = "url_unreadable"  # a decided track in view moves its sighting's last_seen this often


def _at(wall_s: float) -> datetime:
    return datetime.fromtimestamp(wall_s, tz=UTC)


def tls_ca_file() -> str | None:
    """The CAs an https or rtsps camera's certificate must chain to (None: not verified, by choice)."""
    if not settings.FACEREC_CAMERA_TLS_VERIFY:
        return None
    return settings.FACEREC_CAMERA_CA_BUNDLE or certifi.where()


def watcher_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class _Watch:
    """One camera being read: its stream, its faces followed, its tracks decided (number -> sighting id,
    or None where the decision wrote no row)."""

    camera: Camera
    reader: StreamReader
    follower: FaceFollower
    decided: dict[int, int | None] = field(default_factory=dict)
    extended_at: dict[int, float] = field(default_factory=dict)
    reported_reconnects: int = 0
    processed: collections.deque = field(default_factory=lambda: collections.deque(maxlen=500))  # frames' times

    def fps(self, window_s: float = 5.0) -> float | None:
        """Frames looked at (detected, tracked) per second over the last seconds: what the camera achieves."""
        if self.reader.state.state != "connected":
            return None
        now = time.time()
        return round(sum(1 for t in list(self.processed) if now - t <= window_s) / window_s, 2)


class CameraWatcher:
    def __init__(self, *, name: str | None = None, capacity: int | None = None) -> None:
        self.name = name or watcher_name()
        self.capacity = capacity or settings.FACEREC_CAMERA_MAX_PER_WATCHER
        self.watches: dict[int, _Watch] = {}
        self.stop_event = threading.Event()
        self.pipeline = get_pipeline()

    # --- leases ---------------------------------------------------------------------------------------------

    def _start(self, camera: Camera) -> None:
        try:
            url = opened(camera.url_sealed)
        except InvalidToken:  # sealed under another SECRET_KEY: this machine's settings differ from the site's
            log.error("watcher %s: camera %s's stream URL cannot be unsealed (is SECRET_KEY the site's?)",
                      self.name, camera.pk)
            Camera.objects.filter(pk=camera.pk).update(
                state=Camera.State.ERROR, error_code=URL_UNREADABLE,
                error_detail="This watcher cannot unseal the stream URL: its SECRET_KEY is not the site's.")
            return
        reader = StreamReader(url, sample_fps=camera.sample_fps,
                              timeout_s=settings.FACEREC_CAMERA_READ_TIMEOUT_S,
                              max_backoff_s=settings.FACEREC_CAMERA_MAX_BACKOFF_S,
                              max_pixels=settings.FACEREC_MAX_IMAGE_PIXELS, tls_ca_file=tls_ca_file()).start()
        follower = FaceFollower(self.pipeline, sample_fps=camera.sample_fps, min_face_px=camera.min_face_px,
                                keep_best_frames=camera.liveness != Camera.Liveness.OFF)
        self.watches[camera.pk] = _Watch(camera, reader, follower)
        log.info("watcher %s reads camera %s (%s)", self.name, camera.pk, camera.name)

    def _stop(self, pk: int) -> None:
        watch = self.watches.pop(pk, None)
        if watch is not None:
            watch.reader.stop()
            # Its connection is closed before the lease goes, so no camera is ever read twice at once.
            watch.reader.thread.join(timeout=settings.FACEREC_CAMERA_READ_TIMEOUT_S + 1)
            self._close_tracks(watch, time.time() + 3600)
            log.info("watcher %s lets camera %s go", self.name, pk)

    def _let_lapsing_leases_go(self) -> None:
        """The database has been away for most of a lease: stop reading before the leases lapse, so the
        watcher that may take a camera over once it is back never reads it alongside this one. Tracks in
        view are lost with the outage (nothing could record them); the next beat claims the cameras again."""
        log.warning("watcher %s: leases lapsing without the database; stops reading %s camera(s)", self.name,
                    len(self.watches))
        for watch in self.watches.values():
            watch.reader.stop()
        for pk in list(self.watches):
            self.watches.pop(pk).reader.thread.join(timeout=settings.FACEREC_CAMERA_READ_TIMEOUT_S + 1)

    def _reports(self) -> dict[int, leases.CameraReport]:
        reports = {}
        for pk, watch in self.watches.items():
            state = watch.reader.state
            metrics.RECONNECTS.inc(state.reconnects - watch.reported_reconnects)
            watch.reported_reconnects = state.reconnects
            reports[pk] = leases.CameraReport(
                state=state.state, last_frame_at=_at(state.last_frame_at) if state.last_frame_at else None,
                fps=watch.fps(), error_code=state.error_code, error_detail=state.error_detail,
                reconnects=state.reconnects)
        return reports

    def beat(self) -> None:
        """Renew, drop what was lost or changed, let go of an excess, claim what is free."""
        held = set(leases.heartbeat(self.name, self._reports()))
        for pk in list(self.watches):
            if pk not in held:
                self._stop(pk)
                leases.release_cameras(self.name, [pk])
        current = {c.pk: c for c in Camera.objects.filter(pk__in=list(self.watches))}
        for pk, watch in list(self.watches.items()):
            if pk in current and current[pk].updated_at != watch.camera.updated_at:  # settings changed
                self._stop(pk)
                self._start(current[pk])
        for pk in leases.excess(self.name, held=list(self.watches)):
            self._stop(pk)
            leases.release_cameras(self.name, [pk])
        claimed = leases.claim_cameras(self.name, held=list(self.watches), capacity=self.capacity)
        for camera in Camera.objects.filter(pk__in=claimed):
            self._start(camera)

    # --- frames to sightings --------------------------------------------------------------------------------

    def _decide(self, watch: _Watch, tracks) -> None:
        if not tracks:
            return
        model_version = self.pipeline.embedder.model_info.version
        threshold, _ = threshold_for(RecognitionThreshold.Kind.IDENTIFY, None, model_version)
        gallery = current_gallery(model_version)
        for track in tracks:
            try:
                decision = decide_track(track, gallery=gallery, threshold=threshold, policy=watch.camera.liveness)
            except DomainError as exc:  # e.g. enforce without liveness weights: logged, not guessed
                log.warning("camera %s: track not decided: %s", watch.camera.pk, exc.code)
                watch.decided[track.number] = None
                continue
            seen = sightings.SeenTrack(first_seen=_at(track.first_seen_s), last_seen=_at(track.last_seen_s),
                                       frames_seen=track.frames_seen, crop=track.best_crop)
            row = sightings.record_sighting(camera_id=watch.camera.pk, decision=decision, seen=seen,
                                            threshold=threshold)
            watch.decided[track.number] = row.pk if row is not None else None
            watch.extended_at[track.number] = time.time()
            delay_s = max(0.0, time.time() - track.first_seen_s)
            metrics.DECISION_SECONDS.observe(delay_s)
            log.info("camera %s: track %s decided after %s frames, %.2f s (best quality %.2f): sighting %s",
                     watch.camera.pk, track.number, track.frames_seen, delay_s, track.best.quality,
                     watch.decided[track.number])

    def _extend(self, watch: _Watch, track, *, force: bool = False) -> None:
        sighting_id = watch.decided.get(track.number)
        if sighting_id is None:
            return
        if force or time.time() - watch.extended_at.get(track.number, 0.0) >= EXTEND_EVERY_S:
            sightings.extend_sighting(sighting_id, last_seen=_at(track.last_seen_s), frames_seen=track.frames_seen)
            watch.extended_at[track.number] = time.time()

    def _close_tracks(self, watch: _Watch, now: float) -> None:
        closed = watch.follower.tracker.pop_closed(now)
        self._decide(watch, [t for t in closed if t.number not in watch.decided and t.frames_seen >= MIN_FRAMES])
        for track in closed:
            self._extend(watch, track, force=True)
            watch.decided.pop(track.number, None)
            watch.extended_at.pop(track.number, None)

    def process(self, watch: _Watch, frames) -> None:
        for start in range(0, len(frames), BATCH_FRAMES):
            watch.follower.step(frames[start:start + BATCH_FRAMES])
        metrics.FRAMES.inc(len(frames))
        watch.processed.extend(time.time() for _ in frames)
        ready = []
        for track in watch.follower.tracker.open_tracks():
            if track.number in watch.decided:
                self._extend(watch, track)
            elif track.frames_seen >= DECIDE_ANYWAY_FRAMES or (
                    track.frames_seen >= DECIDE_AFTER_FRAMES and track.best.quality >= MIN_QUALITY):
                ready.append(track)
        self._decide(watch, ready)
        self._close_tracks(watch, frames[-1][0])

    # --- the loop -------------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Run the models once before the first camera: ONNX Runtime's first runs are slow (allocations,
        thread pools), and a face entering must not wait for them."""
        rng = np.random.default_rng(0)
        noise = (rng.random((360, 640, 3)) * 255).astype(np.uint8)  # many candidate windows: all three nets run
        self.pipeline.detector.detect_many([noise, np.zeros((720, 1280, 3), np.uint8)])
        for n in (1, 2, 4, 8):
            self.pipeline.embedder.embed(np.zeros((n, self.pipeline.crop_size, self.pipeline.crop_size, 3), np.uint8))

    def step(self) -> bool:
        """The frames each camera sent since the last step; False when there were none."""
        busy = False
        for watch in list(self.watches.values()):
            frames = watch.reader.take()
            if frames:
                busy = True
                self.process(watch, frames)
            elif watch.reader.state.state != "connected":
                self._close_tracks(watch, time.time())
        return busy

    def run(self) -> None:
        self.warm_up()
        leases.register_watcher(self.name)
        log.info("watcher %s started (at most %s cameras)", self.name, self.capacity)
        beat_every_s = settings.FACEREC_CAMERA_LEASE_S / 3
        next_beat, renewed = 0.0, time.monotonic()
        try:
            while not self.stop_event.is_set():
                try:
                    if time.monotonic() >= next_beat:
                        close_old_connections()
                        started = time.monotonic()
                        self.beat()
                        renewed, next_beat = started, time.monotonic() + beat_every_s
                    busy = self.step()
                except DATABASE_ERRORS as exc:  # an outage: wait, reconnect, go on (leases lapse meanwhile)
                    log.warning("watcher %s: database unavailable (%s); retrying", self.name, type(exc).__name__)
                    close_old_connections()
                    let_go_at = renewed + LEASE_MARGIN * settings.FACEREC_CAMERA_LEASE_S
                    if self.watches and time.monotonic() >= let_go_at:
                        self._let_lapsing_leases_go()
                    wait_s = min(DATABASE_RETRY_S, let_go_at - time.monotonic()) if self.watches else DATABASE_RETRY_S
                    self.stop_event.wait(max(0.05, wait_s))
                    continue
                if not busy:
                    self.stop_event.wait(0.02)
        finally:
            for pk in list(self.watches):
                self._stop(pk)
            leases.retire_watcher(self.name, [])
            Camera.objects.filter(lease_owner=self.name).update(lease_owner="", lease_until=None,
                                                                state=Camera.State.IDLE, fps=None)
            log.info("watcher %s stopped", self.name)
