"""The webcam kiosk: frames identified or verified one at a time, recorded once per stable decision.

A kiosk sends a few frames a second. The identify and verify services write one audit entry,
one match score and one webhook event per face for every call: at 4 frames a second one person
standing at the kiosk for a minute would be 240 audit entries and 240 events saying the same
thing, drowning the audit log, the drift figures and every subscriber. So each frame is decided
by the same code as identify and verify (`identify_faces`, `compare_with_identity`: the same
threshold, calibration, classifier and liveness policy) without recording it, and the kiosk
keeps, per run, how many consecutive frames agreed. After STABLE_FRAMES agreeing frames the
decision is *stable*: that is what the page shows as accept / refuse, and when it differs from
the last stable decision recorded for the run, it is recorded once, as the services record a
call (`record_identify`, `record_verify_identity`), the audit entry marked `source: kiosk`. A
person who stays is one entry; one who leaves and comes back, or someone else, is another.
A stable "nobody here" is not an answer about anyone and records nothing.

Frames are decoded in memory and never stored; the run's state holds decisions only (ids and
words), never pixels, boxes or embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import NoFace
from recognition.services.matching import (
    IdentifyResult,
    compare_with_identity,
    identify_faces,
    record_identify,
    record_verify_identity,
)

STABLE_FRAMES = 3  # consecutive agreeing frames before a decision is shown and recorded
NOBODY = "nobody"  # a frame without a face: breaks a streak, is never recorded
ACCEPT, REFUSE = "accept", "refuse"
KIOSK_SOURCE = {"source": "kiosk", "stable_frames": STABLE_FRAMES}


@dataclass
class KioskFace:
    """What the page draws for one face: its box, who (or `unknown`) and its liveness."""

    box: list[float]
    label: str
    known: bool
    score: float | None
    reason: str | None
    liveness: dict | None


@dataclass
class KioskFrame:
    mode: str  # identify or verify
    faces: list[KioskFace]
    image_size: tuple[int, int]
    threshold: float | None
    liveness_policy: str
    decision: str  # this frame's decision: NOBODY, ACCEPT / REFUSE (verify) or the faces' answers (identify)
    streak: int  # consecutive frames, this one included, with this decision
    stable: str | None  # the decision once STABLE_FRAMES agree (what the page shows as final), else None
    recorded: bool = False  # this frame made the stable decision that was recorded


def advance(state: dict, decision: str) -> tuple[int, str | None, bool]:
    """One frame's decision into a run's state (a JSON-able dict the caller keeps between frames).

    Returns (streak, stable decision or None, whether that stable decision is new and must be
    recorded). Pure, so the rule is tested without frames.
    """
    streak = state.get("streak", 0) + 1 if state.get("decision") == decision else 1
    state["decision"], state["streak"] = decision, streak
    if streak < STABLE_FRAMES:
        return streak, None, False
    is_new = state.get("recorded") != decision
    state["recorded"] = decision
    return streak, decision, is_new and decision != NOBODY


def identify_frame(*, image: np.ndarray, state: dict, actor) -> KioskFrame:
    """1:N on one kiosk frame: every face named or `unknown`; recorded when a new decision becomes stable."""
    result = identify_faces(image=image, top_k=1, liveness=None, visible_to=actor)
    streak, stable, record = advance(state, _identify_decision(result))
    if record:
        record_identify(result, actor=actor, details=KIOSK_SOURCE)
    faces = [KioskFace(box=f.box, label=f.label, known=f.identity_id is not None, score=f.score, reason=f.reason,
                       liveness=f.liveness) for f in result.faces]
    return KioskFrame(mode="identify", faces=faces, image_size=result.image_size, threshold=result.threshold,
                      liveness_policy=result.liveness_policy, decision=state["decision"], streak=streak,
                      stable=stable, recorded=record)


def _identify_decision(result: IdentifyResult) -> str:
    """The frame's answer as a word: who is there (ids, `unknown` for a stranger), in a fixed order."""
    if not result.faces:
        return NOBODY
    return ",".join(sorted(str(f.identity_id) if f.identity_id is not None else "unknown" for f in result.faces))


def verify_frame(*, image: np.ndarray, identity, state: dict, actor) -> KioskFrame:
    """1:1 on one kiosk frame: is the largest face `identity`? Accept / refuse once stable, recorded then.

    A frame without a face is no answer (NOBODY), not a refusal: the person may be stepping in.
    A person erased or without templates is the services' error (410 / 409), as on the verify page.
    """
    try:
        result = compare_with_identity(image=image, identity=identity, liveness=None)
    except NoFace:
        streak, stable, _ = advance(state, NOBODY)
        return KioskFrame(mode="verify", faces=[], image_size=(int(image.shape[1]), int(image.shape[0])),
                          threshold=None, liveness_policy="", decision=NOBODY, streak=streak, stable=stable)
    decision = ACCEPT if result.match else REFUSE
    streak, stable, record = advance(state, decision)
    if record:
        record_verify_identity(result, identity=identity, actor=actor, details=KIOSK_SOURCE)
    face = KioskFace(box=result.faces[0], label=str(identity), known=result.match, score=result.score,
                     reason=result.reason, liveness=(result.liveness or [None])[0])
    return KioskFrame(mode="verify", faces=[face], image_size=(int(image.shape[1]), int(image.shape[0])),
                      threshold=result.threshold, liveness_policy=result.liveness_policy, decision=decision,
                      streak=streak, stable=stable, recorded=record)
