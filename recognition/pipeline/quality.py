"""Enrollment quality checks: one usable face, large, confident, sharp and roughly frontal.

Every check reports its figure and limit so callers can explain a refusal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .detection import Detection, crop_face, largest

Policy = Literal["single", "largest"]

# Failure codes.
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
FACE_TOO_SMALL = "face_too_small"
LOW_CONFIDENCE = "low_confidence"
BLURRY = "blurry"
POSE_ROLL = "pose_roll"
POSE_YAW = "pose_yaw"


@dataclass(frozen=True)
class QualityThresholds:
    """Limits for enrollment photos.

    min_sharpness and max_yaw_ratio were calibrated on 600 LFW photos (one random image
    each of 600 random people) and all 400 ORL images, the face chosen by nearest_to_center.
    """

    min_face_px: float = 40.0  # shorter side of the detection box, in source pixels
    min_probability: float = 0.95
    # Variance of the Laplacian of the grey 160 px crop (margin 32). LFW: 1st percentile
    # 18, median ~67; ORL: minimum 68. 15 passes 99.3% of LFW and all of ORL, and rejects
    # every LFW photo and 99% of ORL photos blurred with a sigma-4 Gaussian (LFW max 9.7).
    min_sharpness: float = 15.0
    max_roll_deg: float = 25.0  # angle of the eye line; LFW and ORL max ~15
    # |nose offset from the eye midpoint, along the eye line| / inter-eye distance.
    # LFW: median 0.08, 99th percentile 0.40; ORL: max 0.29. 0.40 passes 98.8% of LFW
    # (which deliberately varies pose), all of ORL, 99.3% of the two together.
    max_yaw_ratio: float = 0.40
    policy: Policy = "single"

    def __post_init__(self) -> None:
        if self.policy not in ("single", "largest"):
            raise ValueError(f"policy must be 'single' or 'largest', not {self.policy!r}")


@dataclass(frozen=True)
class QualityFailure:
    code: str
    figure: float
    limit: float
    message: str


@dataclass
class QualityReport:
    ok: bool
    detection: Detection | None
    figures: dict[str, float] = field(default_factory=dict)
    failures: list[QualityFailure] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.failures]


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: low means blurred or featureless."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def roll_degrees(detection: Detection) -> float:
    """Signed angle of the eye line from horizontal, in degrees (image y points down)."""
    (lx, ly), (rx, ry) = detection.landmarks[0], detection.landmarks[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def yaw_ratio(detection: Detection) -> float:
    """Signed nose offset from the eye midpoint, measured along the eye line (so roll
    does not leak in), divided by the inter-eye distance. 0 is frontal."""
    (lx, ly), (rx, ry), (nx, ny) = detection.landmarks[:3]
    ex, ey = rx - lx, ry - ly
    dist = math.hypot(ex, ey)
    if dist == 0:
        return math.inf
    mx, my = (lx + rx) / 2.0, (ly + ry) / 2.0
    return ((nx - mx) * ex + (ny - my) * ey) / (dist * dist)


def assess_quality(
    image: np.ndarray,
    detections: Sequence[Detection],
    crop: np.ndarray | None = None,
    thresholds: QualityThresholds | None = None,
) -> QualityReport:
    """Check an enrollment photo. `crop` is the 160 px crop of the chosen face if the
    caller already has it (it is computed otherwise).

    Under policy 'single', only faces that would themselves pass the size and confidence
    limits count towards `multiple_faces`, so a small or doubtful face in the background
    does not block an otherwise good photo. The chosen face is the largest detection.
    """
    t = thresholds or QualityThresholds()
    report = QualityReport(ok=False, detection=None)
    failures = report.failures

    report.figures["face_count"] = float(len(detections))
    if not detections:
        failures.append(QualityFailure(NO_FACE, 0.0, 1.0, "No face was found in the photo."))
        return report

    if t.policy == "single":
        significant = [
            d for d in detections
            if d.probability >= t.min_probability and min(d.width, d.height) >= t.min_face_px
        ]
        report.figures["significant_faces"] = float(len(significant))
        if len(significant) > 1:
            failures.append(QualityFailure(
                MULTIPLE_FACES, float(len(significant)), 1.0,
                f"{len(significant)} faces were found; the photo must show exactly one person.",
            ))
        chosen = significant[0] if len(significant) == 1 else largest(detections)
    else:
        chosen = largest(detections)
    assert chosen is not None
    report.detection = chosen

    face_px = min(chosen.width, chosen.height)
    prob = chosen.probability
    if crop is None:
        try:
            crop = crop_face(image, chosen)
        except ValueError:
            crop = None
    sharp = sharpness(crop) if crop is not None else 0.0
    roll = roll_degrees(chosen)
    yaw = yaw_ratio(chosen)
    report.figures.update(
        face_px=face_px, probability=prob, sharpness=sharp, roll_deg=roll, yaw_ratio=yaw
    )

    if face_px < t.min_face_px:
        failures.append(QualityFailure(
            FACE_TOO_SMALL, face_px, t.min_face_px,
            f"The face is {face_px:.0f} px; at least {t.min_face_px:.0f} px are needed.",
        ))
    if prob < t.min_probability:
        failures.append(QualityFailure(
            LOW_CONFIDENCE, prob, t.min_probability,
            f"The detector is only {prob:.1%} sure this is a face.",
        ))
    if sharp < t.min_sharpness:
        failures.append(QualityFailure(
            BLURRY, sharp, t.min_sharpness, "The face is blurred or out of focus.",
        ))
    if abs(roll) > t.max_roll_deg:
        failures.append(QualityFailure(
            POSE_ROLL, abs(roll), t.max_roll_deg,
            f"The head is tilted by {abs(roll):.0f} degrees; hold it upright.",
        ))
    if abs(yaw) > t.max_yaw_ratio:
        failures.append(QualityFailure(
            POSE_YAW, abs(yaw), t.max_yaw_ratio, "The face is turned aside; look at the camera.",
        ))

    report.ok = not failures
    return report
