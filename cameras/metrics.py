"""The cameras' own Prometheus instruments (exported by monitoring's /metrics, multiprocess).

No camera name, identity or score is a label: outcomes only.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# identified | unknown | liveness_failed: a new sighting; extended: a repeat within the cooldown.
SIGHTINGS = Counter("facerec_camera_sightings_total", "Camera sightings written, by outcome", ["outcome"])
FRAMES = Counter("facerec_camera_frames_total", "Camera frames looked at (sampled)")
RECONNECTS = Counter("facerec_camera_reconnects_total", "Camera streams opened again after a failure")
DECISION_SECONDS = Histogram("facerec_camera_decision_seconds",
                             "From a track's first frame to its sighting's row",
                             buckets=(0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30))
