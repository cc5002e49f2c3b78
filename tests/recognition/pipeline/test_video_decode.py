"""Reading video files: the header, frames sampled by their timestamps, and a reason for every bad file."""

import pytest
from PIL import Image

from recognition.pipeline.video import (
    CORRUPT,
    NO_FRAMES,
    NO_VIDEO_STREAM,
    NOT_A_VIDEO,
    RESOLUTION_TOO_LARGE,
    TRUNCATED,
    VideoInfo,
    VideoRejected,
    probe_video,
)
from recognition.pipeline.video.decode import sampled_frames
from tests.video_clips import (
    Appearance,
    audio_only,
    damaged_copy,
    huge_header,
    lfw_photo,
    random_bytes,
    truncated_copy,
    write_clip,
    write_vfr_clip,
    zero_frames,
)

MAX_PIXELS = 40_000_000


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decode")
    return {
        "mp4": write_clip(folder / "good.mp4", duration_s=2.0, size=(320, 240)),
        "faststart": write_clip(folder / "faststart.mp4", duration_s=6.0, size=(320, 240), faststart=True),
        "avi": write_clip(folder / "good.avi", duration_s=1.0, size=(320, 240), codec="mpeg4"),
        # A face moving: most of the file is picture data, where damage lands.
        "face": write_clip(folder / "face.mp4", [Appearance(lfw_photo("Colin_Powell"), 0.0, 2.0, (10, 10), (100, 50),
                                                            120)], duration_s=2.0, size=(320, 240), faststart=True),
        "folder": folder,
    }


def test_probe_reads_the_header(clips):
    info = probe_video(clips["mp4"], max_pixels=MAX_PIXELS)
    assert info == VideoInfo(container=info.container, codec="h264", width=320, height=240, duration_s=2.0,
                             frame_rate=25.0)
    assert "mp4" in info.container
    avi = probe_video(clips["avi"], max_pixels=MAX_PIXELS)
    assert (avi.container, avi.codec, avi.width, avi.height) == ("avi", "mpeg4", 320, 240)


def test_frames_are_sampled_at_the_requested_rate_by_timestamp(clips):
    frames = list(sampled_frames(clips["mp4"], sample_fps=5.0, max_pixels=MAX_PIXELS))
    assert [round(t, 3) for t, _ in frames] == [k / 5 for k in range(10)]
    assert all(image.shape == (240, 320, 3) and image.dtype.name == "uint8" for _, image in frames)
    # Sampling faster than the file's 25 fps takes every frame once.
    assert len(list(sampled_frames(clips["mp4"], sample_fps=100.0, max_pixels=MAX_PIXELS))) == 50


def test_a_variable_frame_rate_is_sampled_by_time_not_by_frame_count(clips):
    # Bursts and pauses: counting every 5th frame would take 0.0 and 1.01; time takes the first frame
    # at or after each 0.2 s instant.
    times = [0.0, 0.04, 0.08, 0.5, 0.54, 1.0, 1.01, 1.02, 1.03, 1.04, 1.5, 2.0]
    clip = write_vfr_clip(clips["folder"] / "vfr.mp4", frame_times=times, size=(320, 240))
    sampled = [round(t, 3) for t, _ in sampled_frames(clip, sample_fps=5.0, max_pixels=MAX_PIXELS)]
    assert sampled == [0.0, 0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize(("build", "reason"), [
    (lambda folder, clips: random_bytes(folder / "random.mp4"), NOT_A_VIDEO),
    (lambda folder, clips: truncated_copy(clips["mp4"], folder / "half.mp4"), TRUNCATED),
    (lambda folder, clips: audio_only(folder / "tone.mp4"), NO_VIDEO_STREAM),
    (lambda folder, clips: zero_frames(folder / "empty.avi"), NO_FRAMES),
    (lambda folder, clips: huge_header(folder / "huge.mkv"), RESOLUTION_TOO_LARGE),
], ids=["random-bytes", "truncated-mp4", "audio-only", "zero-frames", "16k-header"])
def test_a_bad_file_is_refused_from_its_header_with_its_reason(clips, build, reason):
    path = build(clips["folder"], clips)
    with pytest.raises(VideoRejected) as probed:
        probe_video(path, max_pixels=MAX_PIXELS)
    with pytest.raises(VideoRejected) as decoded:
        list(sampled_frames(path, sample_fps=5.0, max_pixels=MAX_PIXELS))
    assert probed.value.reason == decoded.value.reason == reason
    assert probed.value.detail.endswith(".")


@pytest.mark.parametrize("name", ["photo.jpg", "photo.mp4", "photo.png"])
def test_a_photo_is_not_a_video_whatever_its_name(clips, name):
    path = clips["folder"] / name
    with Image.open(lfw_photo("Colin_Powell")) as photo:
        photo.save(path, format="PNG" if name.endswith(".png") else "JPEG")
    with pytest.raises(VideoRejected) as rejected:
        probe_video(path, max_pixels=MAX_PIXELS)
    assert rejected.value.reason == NOT_A_VIDEO


def test_an_mp4_cut_off_after_its_index_is_truncated_when_decoded(clips):
    half = truncated_copy(clips["faststart"], clips["folder"] / "half-faststart.mp4")
    assert probe_video(half, max_pixels=MAX_PIXELS).duration_s == 6.0  # the header is intact
    with pytest.raises(VideoRejected) as rejected:
        list(sampled_frames(half, sample_fps=5.0, max_pixels=MAX_PIXELS))
    assert rejected.value.reason == TRUNCATED


def test_an_h264_stream_damaged_in_the_middle_is_corrupt(clips):
    damaged = damaged_copy(clips["face"], clips["folder"] / "damaged.mp4")
    assert probe_video(damaged, max_pixels=MAX_PIXELS).duration_s == 2.0  # the header is intact
    with pytest.raises(VideoRejected) as rejected:
        list(sampled_frames(damaged, sample_fps=5.0, max_pixels=MAX_PIXELS))
    assert rejected.value.reason == CORRUPT


@pytest.mark.parametrize("at", [0.3, 0.5, 0.7])
def test_damage_anywhere_is_concealed_or_refused_never_a_crash(clips, at):
    # FFmpeg conceals some damage (MPEG-4 in AVI) and fails on other; no other exception may leave.
    for source in (clips["avi"], clips["mp4"], clips["face"]):
        damaged = damaged_copy(source, clips["folder"] / f"damaged-{at}{source.suffix}", at=at)
        try:
            frames = list(sampled_frames(damaged, sample_fps=5.0, max_pixels=MAX_PIXELS))
        except VideoRejected as exc:
            assert exc.reason in {CORRUPT, TRUNCATED, NOT_A_VIDEO}
        else:
            assert frames


def test_a_smaller_pixel_limit_refuses_an_ordinary_video(clips):
    with pytest.raises(VideoRejected) as rejected:
        probe_video(clips["mp4"], max_pixels=320 * 240 - 1)
    assert rejected.value.reason == RESOLUTION_TOO_LARGE


@pytest.mark.parametrize(("name", "codec"), [
    ("clip.mov", "libx264"), ("clip.mkv", "libx264"), ("clip.webm", "libvpx-vp9"), ("hevc.mp4", "libx265"),
])
def test_the_usual_containers_and_codecs_are_sampled_alike(clips, name, codec):
    path = write_clip(clips["folder"] / name, duration_s=1.0, size=(320, 240), codec=codec)
    info = probe_video(path, max_pixels=MAX_PIXELS)
    assert (info.width, info.height) == (320, 240) and info.duration_s == pytest.approx(1.0, abs=0.05)
    sampled = [round(t, 3) for t, _ in sampled_frames(path, sample_fps=5.0, max_pixels=MAX_PIXELS)]
    assert sampled == [0.0, 0.2, 0.4, 0.6, 0.8]
