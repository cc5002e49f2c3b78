"""A video through the real worker and database: tracks, identities, times, crops, the upload's deletion,
the bad files' reasons, and the claim that makes a superseded run write nothing."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from audit.models import AuditLog
from identities.models import private_storage
from recognition.services import current_model_version
from tests.videos.conftest import SAMPLE_PERIOD_S, STRANGER, process_through_worker, stored_video, wait_for_video
from videos.models import Video, VideoTrack, video_storage
from videos.services import processing
from videos.tasks import process_video as process_video_task
from webhooks import services as webhooks
from webhooks.models import Event

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A face is seen from the first sampled frame it is on screen; the last sampled frame is at most one
# sample period before it leaves (a few ms of rounding either way).
TIME_SLACK_S = SAMPLE_PERIOD_S + 0.01


def assert_times(track: VideoTrack, appearance) -> None:
    assert appearance.start_s - 0.01 <= track.first_seen_s <= appearance.start_s + TIME_SLACK_S, track.first_seen_s
    assert appearance.end_s - TIME_SLACK_S <= track.last_seen_s <= appearance.end_s + 0.01, track.last_seen_s
    assert track.first_seen_s <= track.best_time_s <= track.last_seen_s


def assert_upload_deleted(video: Video, name: str) -> None:
    assert video.file.name == ""
    assert not video_storage.exists(name)


def test_each_person_walking_through_is_one_track_decided_once(celery_worker, enrolled, uploader, clips):
    clip = clips["walk"]
    video = stored_video(clip.path, user=uploader)
    upload = video.file.name
    assert video_storage.exists(upload)
    process_video_task.apply_async(args=[video.pk])

    video = wait_for_video(video.pk)

    assert video.status == "done", (video.error_code, video.error_detail)
    bush, stranger = video.tracks.order_by("number")
    assert (bush.number, stranger.number) == (1, 2)
    assert bush.identity_id == enrolled.people["George_W_Bush"].pk
    assert bush.reason == "" and bush.score >= video.threshold
    assert bush.decided_by == "score"  # no classifier trained here: the calibrated score decides
    assert stranger.identity_id is None and stranger.reason in ("below_threshold", "classifier_disagrees")
    assert stranger.score is not None and stranger.score < video.threshold
    assert_times(bush, clip.shows["George_W_Bush"])
    assert_times(stranger, clip.shows[STRANGER])
    assert bush.frames_seen >= 6 and stranger.frames_seen >= 5
    # What the decoder said, and the job's figures.
    assert (video.codec, video.width, video.height) == ("h264", 640, 360)
    assert "mp4" in video.container and video.duration_s == pytest.approx(clip.duration_s, abs=0.05)
    assert video.sample_fps == 5 and video.frames_decoded == 21 and video.faces_found >= 11
    assert video.progress == 1.0 and video.attempts == 1 and video.finished_at is not None
    assert video.model_version == current_model_version() and 0 < video.threshold < 1
    assert_upload_deleted(video, upload)


def test_only_the_identified_persons_crop_is_kept_and_it_is_encrypted(celery_worker, enrolled, uploader, clips):
    video = process_through_worker(clips["walk"].path, user=uploader)

    bush, stranger = video.tracks.order_by("number")
    assert not stranger.crop  # never consented: never stored
    assert bush.crop and bush.crop.name.startswith("video-crops/")
    assert not private_storage.stored_plaintext(bush.crop.name)
    with bush.crop.open("rb") as fh:
        crop = Image.open(io.BytesIO(fh.read()))
        assert crop.format == "PNG" and min(crop.size) >= 100
    x1, y1, x2, y2 = bush.best_box
    assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360
    # The default policy (`report`) scores each track's best frame and does not block on it.
    assert set(bush.liveness) == {"score", "is_live"} and set(stranger.liveness) == {"score", "is_live"}


def test_two_people_on_screen_at_once_are_two_tracks(celery_worker, enrolled, uploader, clips):
    clip = clips["together"]
    video = process_through_worker(clip.path, user=uploader)

    assert video.status == "done", (video.error_code, video.error_detail)
    tracks = list(video.tracks.order_by("number"))
    assert len(tracks) == 2
    people = {track.identity_id: track for track in tracks}
    assert set(people) == {enrolled.people["George_W_Bush"].pk, enrolled.people["Colin_Powell"].pk}
    for person in ("George_W_Bush", "Colin_Powell"):
        assert_times(people[enrolled.people[person].pk], clip.shows[person])
        assert people[enrolled.people[person].pk].crop


def test_progress_is_written_while_the_job_runs(celery_worker, enrolled, uploader, clips):
    video = stored_video(clips["walk"].path, user=uploader)
    process_video_task.apply_async(args=[video.pk])
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        row = Video.objects.values("status", "progress", "frames_decoded", "faces_found").get(pk=video.pk)
        if row["status"] in ("done", "failed"):
            break
        if row["status"] == "processing":
            seen.add((row["progress"], row["frames_decoded"], row["faces_found"]))
        time.sleep(0.02)

    assert row["status"] == "done"
    partial = [(p, frames, faces) for p, frames, faces in seen if 0 < p < 1]
    assert partial, seen
    assert all(0 < frames < 21 and faces <= frames for _, frames, faces in partial)


def test_the_job_is_audited_with_ids_only(celery_worker, enrolled, uploader, clips, settings):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    webhooks.create_subscription(url="http://127.0.0.1:9/hook", event_types=["video.finished", "video.failed"])
    video = process_through_worker(clips["walk"].path, user=uploader)

    entry = AuditLog.objects.get(action="video.process", target_id=str(video.pk))
    assert entry.actor_id == uploader.pk
    assert entry.details == {"status": "done", "uploaded_by": uploader.pk, "tracks": 2,
                             "identified": [enrolled.people["George_W_Bush"].pk], "unknown": 1}
    # Its webhook event, written with the results: ids and counts only.
    [event] = Event.objects.all()
    assert (event.type, event.payload) == ("video.finished", {"video_id": video.pk, "status": "done",
                                                              "track_count": 2, "identified_count": 1})


@pytest.mark.parametrize("reason", ["truncated", "not_a_video", "no_frames", "no_video_stream",
                                    "resolution_too_large"])
def test_a_bad_file_fails_with_its_reason_once_and_its_upload_is_deleted(celery_worker, uploader, broken_files,
                                                                        reason):
    video = stored_video(broken_files.by_reason[reason], user=uploader)
    upload = video.file.name
    result = process_video_task.apply_async(args=[video.pk])

    assert result.get(timeout=120) == "failed"  # no exception, so no retry
    video = wait_for_video(video.pk)
    assert (video.status, video.error_code, video.attempts) == ("failed", reason, 1)
    assert video.error_detail and not video.tracks.exists()
    assert_upload_deleted(video, upload)
    entry = AuditLog.objects.get(action="video.process", target_id=str(video.pk))
    assert entry.details == {"status": "failed", "reason": reason, "uploaded_by": uploader.pk}


def test_a_second_delivery_of_the_task_does_nothing(celery_worker, enrolled, uploader, clips):
    video = process_through_worker(clips["walk"].path, user=uploader)

    assert process_video_task.apply_async(args=[video.pk]).get(timeout=60) is None
    assert Video.objects.get(pk=video.pk).attempts == 1
    assert VideoTrack.objects.filter(video=video).count() == 2
    assert AuditLog.objects.filter(action="video.process", target_id=str(video.pk)).count() == 1


def test_a_run_whose_claim_was_superseded_writes_nothing(celery_worker, enrolled, uploader, clips):
    video = stored_video(clips["walk"].path, user=uploader)
    upload = video.file.name
    result = process_video_task.apply_async(args=[video.pk])
    deadline = time.monotonic() + 60
    while not Video.objects.filter(pk=video.pk, status="processing").exists():
        assert time.monotonic() < deadline, "never claimed"
        time.sleep(0.02)
    # What the sweep and another worker do when they judge this run lost: a new claim.
    Video.objects.filter(pk=video.pk).update(attempts=2)
    progress = Video.objects.get(pk=video.pk).progress

    assert result.get(timeout=120) is None
    video.refresh_from_db()
    assert (video.status, video.attempts, video.progress) == ("processing", 2, progress)
    assert not video.tracks.exists()
    assert video_storage.exists(upload)  # the current claim's run still needs it
    assert not AuditLog.objects.filter(action="video.process").exists()


def test_a_transient_error_gives_the_claim_back_and_the_task_that_gives_up_deletes_the_upload(
        enrolled, uploader, clips, settings, tmp_path):
    """Run in this process: a file where the crops' folder belongs makes saving a crop fail with a real
    OSError (FileExistsError), every time."""
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "video-crops").write_bytes(b"in the way")
    video = stored_video(clips["together"].path, user=uploader)
    upload = video.file.name

    with pytest.raises(OSError):
        processing.process_video(video.pk)
    video.refresh_from_db()
    assert (video.status, video.attempts) == ("pending", 1)  # given back: the retry takes it again
    assert video_storage.exists(upload) and not video.tracks.exists()

    process_video_task.apply(args=[video.pk])  # eagerly, retries included (no countdown)

    video.refresh_from_db()
    assert (video.status, video.error_code, video.attempts) == ("failed", "processing_error", 1 + 4)
    assert "gave up" in video.error_detail and not video.tracks.exists()
    assert_upload_deleted(video, upload)


def test_a_task_that_gives_up_fails_a_waiting_video_and_deletes_its_upload(uploader, clips, settings):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    webhooks.create_subscription(url="http://127.0.0.1:9/hook", event_types=["video.failed", "video.finished"])
    waiting = stored_video(clips["walk"].path, user=uploader)
    upload = waiting.file.name
    held = stored_video(clips["walk"].path, user=uploader)
    Video.objects.filter(pk=held.pk).update(status="processing", attempts=1)

    for video in (waiting, held):
        processing.fail_video(video.pk, code="processing_error", detail="gave up", only_pending=True)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.error_code) == ("failed", "processing_error")
    assert_upload_deleted(waiting, upload)
    held.refresh_from_db()
    assert held.status == "processing" and video_storage.exists(held.file.name)  # a run holds it
    # One webhook event, for the video that failed, written with its failure.
    [event] = Event.objects.all()
    assert (event.type, event.payload) == ("video.failed", {"video_id": waiting.pk, "status": "failed",
                                                            "reason": "processing_error"})
    assert event.deliveries.count() == 1


def test_with_liveness_enforced_a_track_that_fails_it_is_unknown_and_keeps_no_crop(enrolled, uploader, clips,
                                                                                   settings):
    """Run in this process (the worker's policy is its environment's): a face pasted on a synthetic
    background is a photo of a photo, which the liveness model scores as an attack."""
    settings.FACEREC_LIVENESS = "enforce"
    video = stored_video(clips["walk"].path, user=uploader)

    assert processing.process_video(video.pk) == "done"

    bush, stranger = Video.objects.get(pk=video.pk).tracks.order_by("number")
    assert bush.liveness["is_live"] is False
    assert (bush.identity_id, bush.reason, bush.score, bool(bush.crop)) == (None, "liveness_failed", None, False)
    for track in (bush, stranger):
        assert (track.reason == "liveness_failed") == (not track.liveness["is_live"])


def test_with_liveness_off_no_track_is_scored(enrolled, uploader, clips, settings):
    settings.FACEREC_LIVENESS = "off"
    video = stored_video(clips["walk"].path, user=uploader)

    assert processing.process_video(video.pk) == "done"

    bush, stranger = Video.objects.get(pk=video.pk).tracks.order_by("number")
    assert bush.identity_id == enrolled.people["George_W_Bush"].pk and bush.crop
    assert bush.liveness is None and stranger.liveness is None
