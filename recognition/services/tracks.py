"""One followed face, one decision: what identify's code makes of a track (a video file's or a camera's).

Liveness on the track's best frame, then one search with its fused embedding, so a track has the
false-accept rate of one still face however many frames it spans.
"""

from __future__ import annotations

from dataclasses import dataclass

from recognition.pipeline.video import Track
from recognition.services.matching import LIVENESS_FAILED, check_liveness, failed_liveness, identify_embedding


@dataclass
class Decision:
    """What identify's code made of one track."""

    identity_id: int | None
    score: float | None
    decided_by: str
    reason: str  # empty when identified
    liveness: dict | None


def decide_track(track: Track, *, gallery, threshold: float, policy: str) -> Decision:
    """One track, one decision: liveness on its best frame (when kept), then the open-set search."""
    liveness = None
    if policy != "off" and track.best_frame is not None:
        liveness = check_liveness(track.best_frame, [track.best.detection], policy=policy)[0]
    if failed_liveness(liveness, policy):
        return Decision(None, None, "", LIVENESS_FAILED, liveness)
    candidates, decided_by, reason = identify_embedding(track.fused_embedding(), gallery=gallery, top_k=1,
                                                        threshold=threshold)
    best = candidates[0] if candidates else None
    return Decision(best.identity_id if best is not None and reason is None else None,
                    best.score if best is not None else None, decided_by, reason or "", liveness)
