"""Cameras (the cameras app): watchers' leases, sightings and how long they are kept.

Beside settings.py, which imports it after reading .env, to keep that module under its size limit."""

from __future__ import annotations

import environ

env = environ.Env()

# A camera may be a video file's absolute path on the site's machine (tests, demonstrations): off, so
# an administrator's form cannot probe or read the server's files.
FACEREC_CAMERA_FILES = env.bool("FACEREC_CAMERA_FILES", default=False)
# https and rtsps cameras: the certificate must name the host and chain to these CAs (PEM; empty: the CAs
# certifi ships). FACEREC_CAMERA_TLS_VERIFY=0 reads without checking (self-signed cameras on a closed LAN).
FACEREC_CAMERA_CA_BUNDLE = env.str("FACEREC_CAMERA_CA_BUNDLE", default="")
FACEREC_CAMERA_TLS_VERIFY = env.bool("FACEREC_CAMERA_TLS_VERIFY", default=True)
# A watcher holds each camera it reads for this long and renews the hold every third of it: a watcher
# that dies loses its cameras to another within this time.
FACEREC_CAMERA_LEASE_S = env.float("FACEREC_CAMERA_LEASE_S", default=15.0)
# Cameras one watcher process reads at most (each costs a decoding thread and a share of the model's time).
FACEREC_CAMERA_MAX_PER_WATCHER = env.int("FACEREC_CAMERA_MAX_PER_WATCHER", default=4)
# A stream that fails is opened again after 1 s, doubling up to this.
FACEREC_CAMERA_MAX_BACKOFF_S = env.float("FACEREC_CAMERA_MAX_BACKOFF_S", default=30.0)
# A stream that sends nothing for this long is dropped (and reconnected).
FACEREC_CAMERA_READ_TIMEOUT_S = env.float("FACEREC_CAMERA_READ_TIMEOUT_S", default=10.0)
# The same person at the same camera again within this many seconds extends their sighting.
FACEREC_SIGHTING_COOLDOWN_S = env.float("FACEREC_SIGHTING_COOLDOWN_S", default=60.0)
# Sightings are deleted after this many days; unknown people's crops (cameras that keep them) after hours.
FACEREC_SIGHTING_DAYS = env.int("FACEREC_SIGHTING_DAYS", default=90)
FACEREC_UNKNOWN_CROP_HOURS = env.float("FACEREC_UNKNOWN_CROP_HOURS", default=24.0)

CAMERA_BEAT_SCHEDULE = {
    "expire-sightings": {"task": "cameras.tasks.expire_sightings", "schedule": 900.0},
}
