"""People enrolled with approved photos and active templates, without a worker: for tests with a live
server (transactional), where `tests.recognition.conftest.enroll` would race the session's real worker
for the photos it queues on commit.

Each LFW photo is detected and embedded by the real pipeline, in-process; the rows are the ones an
approved enrollment leaves (tests.videos.conftest.write_enrollment writes them). No classifier is
trained: identify decides by the calibrated score alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from identities.models import Identity
from recognition.runtime import get_pipeline, read_image_file
from recognition.services import embed_face
from tests.recognition.conftest import ENROLLMENT_PHOTOS, lfw_path
from tests.videos.conftest import write_enrollment


@dataclass(frozen=True)
class EmbeddedPhoto:
    number: int
    data: bytes
    crop_png: bytes
    vector: object  # np.ndarray, unit length


def embedded_photos(person: str, numbers=ENROLLMENT_PHOTOS) -> list[EmbeddedPhoto]:
    pipeline = get_pipeline()
    photos = []
    for n in numbers:
        path = lfw_path(person, n)
        pixels = read_image_file(path)
        detection = max(pipeline.detector.detect(pixels), key=lambda d: d.width)
        crop, vector = embed_face(pixels, detection, pipeline)
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, format="PNG")
        photos.append(EmbeddedPhoto(n, path.read_bytes(), buf.getvalue(), vector))
    return photos


def approved_person(person: str, *, owner) -> Identity:
    """`person` (an LFW folder name) enrolled by `owner` with photos 1-3 approved."""
    return write_enrollment(person, embedded_photos(person), owner=owner)
