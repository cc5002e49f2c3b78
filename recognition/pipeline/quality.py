"""Enrollment quality checks: one usable face, large, confident, sharp and roughly frontal.

Every check reports its figure and limit so callers can explain a refusal. Which face of a
photo is the person's depends on the policy: `single` refuses a photo with several
significant faces, `largest` takes the largest, `review` (the default) takes the one
`preselect_face` finds most likely (the one closest to the person's other photos, else the
largest near the centre) and leaves the others for a reviewer to pick instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .detection import Detection, crop_face, largest

Policy = Literal["single", "largest", "review"]
POLICIES = ("single", "largest", "review")

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
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")

    def significant(self, detection: Detection) -> bool:
        """Large and sure enough to be someone in the photo, not a face in the background."""
        return detection.probability >= self.min_probability and min(detection.width, detection.height) >= self.min_face_px


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
    import cv2  # heavy: imported on the first quality check, not with the pipeline

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


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def face_at(detections: Sequence[Detection], box: Sequence[float], min_overlap: float = 0.3) -> Detection | None:
    """The detection that overlaps `box` most (a face named by its box), or None under `min_overlap`."""
    if not detections:
        return None
    best = max(detections, key=lambda d: box_overlap(d.box, box))
    return best if box_overlap(best.box, box) >= min_overlap else None


def preselect_face(image_shape: Sequence[int], faces: Sequence[Detection],
                   similarity_to_person: Sequence[float] | None = None) -> int:
    """The index of the face most likely the person's among several significant ones: the one most
    similar to the person's other photos when there are some, else the largest near the centre
    (its area, discounted by up to half for its distance from the centre)."""
    if similarity_to_person is not None and len(similarity_to_person) == len(faces):
        return int(np.argmax(similarity_to_person))
    height, width = image_shape[:2]
    half_diagonal = math.hypot(width, height) / 2.0

    def weight(face: Detection) -> float:
        cx, cy = (face.box[0] + face.box[2]) / 2.0, (face.box[1] + face.box[3]) / 2.0
        off_centre = math.hypot(cx - width / 2.0, cy - height / 2.0) / half_diagonal
        return face.width * face.height * (1.0 - 0.5 * min(off_centre, 1.0))

    return int(np.argmax([weight(face) for face in faces]))


def assess_quality(
    image: np.ndarray,
    detections: Sequence[Detection],
    crop: np.ndarray | None = None,
    thresholds: QualityThresholds | None = None,
    chosen: Detection | None = None,
) -> QualityReport:
    """Check an enrollment photo. `crop` is the 160 px crop of the chosen face if the
    caller already has it (it is computed otherwise).

    `chosen`: the face the caller picked (policy 'review', or a face named at upload); the
    checks apply to it and the other faces are not held against the photo. Otherwise, under
    policy 'single', only faces that would themselves pass the size and confidence limits
    count towards `multiple_faces`, so a small or doubtful face in the background does not
    block an otherwise good photo; the chosen face is the largest detection.
    """
    t = thresholds or QualityThresholds()
    report = QualityReport(ok=False, detection=None)
    failures = report.failures

    report.figures["face_count"] = float(len(detections))
    if not detections:
        failures.append(QualityFailure(NO_FACE, 0.0, 1.0, "No face was found in the photo."))
        return report

    significant = [d for d in detections if t.significant(d)]
    report.figures["significant_faces"] = float(len(significant))
    if chosen is None:
        if t.policy == "single" and len(significant) > 1:
            failures.append(QualityFailure(
                MULTIPLE_FACES, float(len(significant)), 1.0,
                f"{len(significant)} faces were found; the photo must show exactly one person.",
            ))
        if t.policy == "largest" or len(significant) != 1:
            chosen = largest(detections)
        else:
            chosen = significant[0]
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
