"""Shared pieces of the video tests: clips with known ground truth (built once per session), people
enrolled with approved photos, and Video rows queued to the real worker.

Enrollment: each LFW photo is detected and embedded once per session by the real pipeline
(in-process); each test then writes the rows an approved enrollment leaves (identity with
consent, approved photos with their crops, active templates), because a transactional test's
tables are flushed after it. No classifier is trained, so tracks are decided by the calibrated
score alone (identify's `score` path), the same every run.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from enrollment import services as enrollment
from identities.models import EnrollmentImage, Identity
from recognition.runtime import get_pipeline, read_image_file
from recognition.services import embed_face, store_embedding
from tests.recognition.conftest import ENROLLMENT_PHOTOS, STRANGERS, display_name, lfw_path
from tests.users import make_user
from tests.video_clips import Appearance, audio_only, huge_header, lfw_photo, random_bytes, truncated_copy, \
    write_clip, zero_frames
from videos.models import Video, VideoTrack
from videos.tasks import process_video as process_video_task

ENROLLED = ("George_W_Bush", "Colin_Powell", "Tony_Blair")
STRANGER = STRANGERS[0]  # Gerhard_Schroeder: never enrolled
SAMPLE_PERIOD_S = 0.2  # 1 / FACEREC_VIDEO_SAMPLE_FPS (5)
# Clip photos are not the enrollment photos (1-3): the video shows the person, not the same picture.
CLIP_PHOTO = 4


@dataclass(frozen=True)
class Clip:
    """A clip on disk and who is on screen when (LFW folder name -> Appearance)."""

    path: Path
    duration_s: float
    shows: dict[str, Appearance] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokenFiles:
    """Files the worker must refuse, each with the reason it must give."""

    by_reason: dict[str, Path]


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Clip]:
    """`walk`: Bush crosses the scene, then a stranger (one after the other);
    `together`: Bush and Powell on screen at the same time, side by side."""
    folder = tmp_path_factory.mktemp("clips")
    walk = {
        "George_W_Bush": Appearance(lfw_photo("George_W_Bush", CLIP_PHOTO), 0.4, 2.0, (40, 90), (420, 110)),
        STRANGER: Appearance(lfw_photo(STRANGER, 1), 2.4, 3.8, (420, 120), (60, 80)),
    }
    together = {
        "George_W_Bush": Appearance(lfw_photo("George_W_Bush", 5), 0.4, 2.4, (30, 100), (90, 100)),
        "Colin_Powell": Appearance(lfw_photo("Colin_Powell", CLIP_PHOTO), 0.4, 2.4, (440, 100), (380, 100)),
    }
    return {
        "walk": Clip(write_clip(folder / "walk.mp4", walk.values(), duration_s=4.2), 4.2, walk),
        "together": Clip(write_clip(folder / "together.mp4", together.values(), duration_s=2.8), 2.8, together),
    }


@pytest.fixture(scope="session")
def broken_files(tmp_path_factory, clips) -> BrokenFiles:
    folder = tmp_path_factory.mktemp("broken")
    return BrokenFiles({
        "truncated": truncated_copy(clips["walk"].path, folder / "truncated.mp4"),
        "not_a_video": random_bytes(folder / "random.mp4"),
        "no_frames": zero_frames(folder / "empty.avi"),
        "no_video_stream": audio_only(folder / "audio.mp4"),
        "resolution_too_large": huge_header(folder / "huge.mkv"),
    })


@dataclass(frozen=True)
class _EnrolledPhoto:
    number: int
    data: bytes
    crop_png: bytes
    vector: object  # np.ndarray, unit length


@pytest.fixture(scope="session")
def enrollment_faces() -> dict[str, list[_EnrolledPhoto]]:
    """Each enrolled person's photos 1-3, detected, cropped and embedded by the real pipeline (once)."""
    pipeline = get_pipeline()
    faces: dict[str, list[_EnrolledPhoto]] = {}
    for person in ENROLLED:
        faces[person] = []
        for n in ENROLLMENT_PHOTOS:
            path = lfw_path(person, n)
            pixels = read_image_file(path)
            detection = max(pipeline.detector.detect(pixels), key=lambda d: d.width)
            crop, vector = embed_face(pixels, detection, pipeline)
            buf = io.BytesIO()
            Image.fromarray(crop).save(buf, format="PNG")
            faces[person].append(_EnrolledPhoto(n, path.read_bytes(), buf.getvalue(), vector))
    return faces


@dataclass
class Enrolled:
    owner: object  # the operator who enrolled them (a reader of these people)
    people: dict[str, Identity]  # LFW folder name -> identity


def write_enrollment(person: str, photos: list[_EnrolledPhoto], *, owner) -> Identity:
    """The rows an approved enrollment leaves: consent, approved photos with crops, active templates."""
    identity = enrollment.create_identity(display_name=display_name(person), actor=owner)
    consent = enrollment.record_consent(identity=identity, given_by_name=display_name(person),
                                        purpose="building access", wording_version="v1", actor=owner)
    model = get_pipeline().embedder.model_info
    for photo in photos:
        image = EnrollmentImage(identity=identity, consent=consent, sha256=hashlib.sha256(photo.data).hexdigest(),
                                content_type="image/jpeg", uploaded_by=owner, reviewed_by=owner,
                                status=EnrollmentImage.Status.APPROVED)
        image.file.save("photo", ContentFile(photo.data), save=False)
        image.crop.save("crop", ContentFile(photo.crop_png), save=False)
        image.save()
        store_embedding(image=image, vector=photo.vector, model_name=model.name, model_version=model.version)
    return identity


@pytest.fixture
def enrolled(transactional_db, enrollment_faces) -> Enrolled:
    """Bush, Powell and Blair enrolled (3 approved photos each) by an operator."""
    owner = make_user("video-enroller", "operator")
    return Enrolled(owner=owner, people={person: write_enrollment(person, photos, owner=owner)
                                         for person, photos in enrollment_faces.items()})


@pytest.fixture
def uploader(transactional_db):
    """Who uploads the videos (an operator: identify)."""
    return make_user("video-uploader", "operator")


def stored_video(path: Path, *, user=None) -> Video:
    """A pending Video row with the file copied into the video storage (what an upload leaves)."""
    video = Video(uploaded_by=user, original_name=path.name, size_bytes=path.stat().st_size)
    with path.open("rb") as fh:
        video.file.save(path.name, File(fh), save=False)
    video.save()
    return video


def queue_video(video: Video) -> None:
    process_video_task.apply_async(args=[video.pk])


def wait_for_video(video_id: int, timeout_s: float = 180) -> Video:
    """The row once the worker has finished with it (done or failed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        video = Video.objects.get(pk=video_id)
        if video.status in (Video.Status.DONE, Video.Status.FAILED):
            return video
        time.sleep(0.3)
    raise AssertionError(f"video #{video_id} still {video.status} after {timeout_s}s")


def process_through_worker(path: Path, *, user=None, timeout_s: float = 180) -> Video:
    video = stored_video(path, user=user)
    queue_video(video)
    return wait_for_video(video.pk, timeout_s)


def face_png(person: str = "George_W_Bush", n: int = CLIP_PHOTO, size: int = 112) -> bytes:
    """A real face crop as PNG bytes (the LFW photo's centre), as a track's stored crop is."""
    with Image.open(lfw_photo(person, n)) as image:
        buf = io.BytesIO()
        image.convert("RGB").crop((70, 70, 180, 180)).resize((size, size)).save(buf, format="PNG")
        return buf.getvalue()


def finished_video(*, days_ago: float = 0, status: str = "done", identity=None, user=None
                   ) -> tuple[Video, list[str]]:
    """A finished job (no worker) with two tracks as the worker leaves them: the first identified as
    `identity` with an encrypted crop (unknown without one), the second unknown. Returns it and the
    crops' storage names."""
    video = Video.objects.create(status=status, uploaded_by=user, original_name="clip.mp4", container="mp4",
                                 codec="h264", width=640, height=360, duration_s=4.2, sample_fps=5.0,
                                 frames_decoded=21, faces_found=15, progress=1.0, threshold=0.5,
                                 finished_at=timezone.now() - timedelta(days=days_ago))
    crops = []
    for number, who in ((1, identity), (2, None)):
        track = VideoTrack(video=video, number=number, identity=who, score=0.9 if who else 0.1,
                           decided_by="score", reason="" if who else "below_threshold",
                           first_seen_s=0.4 + 2 * (number - 1), last_seen_s=1.8 + 2 * (number - 1), frames_seen=8,
                           best_time_s=1.0 + 2 * (number - 1), best_box=[10, 10, 90, 100])
        if who is not None:
            track.crop.save("crop", ContentFile(face_png()), save=False)
            crops.append(track.crop.name)
        track.save()
    return video, crops
