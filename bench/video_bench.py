"""Speed and accuracy of video tracking, printed as a table (a benchmark, not a test).

    .venv/bin/python bench/video_bench.py [--sample-fps 5] [--batch-frames 8] [--device cpu|cuda]
    .venv/bin/python bench/video_bench.py --similarities   # the tracker's similarity gates, measured

Builds once (cached under /tmp/facerec-video-bench) a 60 s 1280x720 25 fps H.264 clip in which LFW
people enter, move and leave, several at once, then runs recognition.pipeline.video.track_video and
prints: real-time factor (video seconds / wall seconds), seconds per stage (decode, detect, embed,
track, and decide: identify's open-set decision on each track's fused embedding against a gallery of
other LFW photos of the same people plus strangers, as recognition.pipeline.open_set decides it,
without Django), peak memory (ru_maxrss) and the tracks found against the clip's truth.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from recognition.pipeline.detection import FaceDetector, min_face_size_for  # noqa: E402
from recognition.pipeline.facenet.embedder import FaceEmbedder  # noqa: E402
from recognition.pipeline.faces import FacePipeline  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402
from recognition.pipeline.open_set import Scorer, identify_among  # noqa: E402
from recognition.pipeline.quality import box_overlap  # noqa: E402
from recognition.pipeline.video import track_video  # noqa: E402
from recognition.pipeline.video.tracking import SIMILARITY_FAR, SIMILARITY_NEAR  # noqa: E402
from tests.shared_data import LFW_IMAGES  # noqa: E402
from tests.video_clips import Appearance, lfw_photo, write_clip  # noqa: E402

CACHE = Path(os.environ.get("FACEREC_VIDEO_BENCH_DIR", "/tmp/facerec-video-bench"))
# People in the clip (photo 1 on screen, photos 2-4 in the gallery) and one stranger (no gallery photo).
PEOPLE = ("Colin_Powell", "Tony_Blair", "Serena_Williams", "Hugo_Chavez", "Gerhard_Schroeder",
          "Jean_Chretien", "John_Ashcroft", "Junichiro_Koizumi")
STRANGER = "Aaron_Eckhart"
TARGET_FPIR = 5e-3  # the platform's default identify target (FACEREC_TARGET_FPIR)


def bench_appearances() -> list[Appearance]:
    """Nine appearances over 60 s, two or three people on screen at most times, all inside the frame."""
    names = PEOPLE + (STRANGER,)
    plan = [  # (start, end, from, to, size)
        (0.0, 12.0, (60, 80), (900, 120), 180), (4.0, 16.0, (1000, 450), (300, 400), 160),
        (10.0, 22.0, (500, 60), (520, 480), 200), (15.0, 30.0, (80, 420), (900, 300), 150),
        (24.0, 36.0, (1050, 60), (100, 100), 170), (31.0, 44.0, (600, 500), (650, 80), 190),
        (38.0, 50.0, (80, 250), (1000, 250), 160), (45.0, 58.0, (1000, 480), (500, 60), 180),
        (50.0, 60.0, (300, 300), (700, 400), 170),
    ]
    return [Appearance(lfw_photo(name), s, e, a, b, size) for name, (s, e, a, b, size) in zip(names, plan)]


def bench_clip() -> Path:
    path = CACHE / "bench-60s-1280x720-25fps.mp4"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.mp4")
        write_clip(partial, bench_appearances(), duration_s=60.0, size=(1280, 720), fps=25)
        partial.rename(path)
    return path


def make_pipeline(device: str, models_dir: Path, batch_size: int) -> FacePipeline:
    detector = FaceDetector(device=device, min_face_size=min_face_size_for(40.0), models_dir=models_dir)
    embedder = FaceEmbedder(models_dir=models_dir, device=device, backend="auto", batch_size=batch_size)
    return FacePipeline(detector, embedder)


def embed_photos(pipeline: FacePipeline, paths: list[Path]) -> np.ndarray:
    faces = pipeline.process([load_image_file(p) for p in paths], select="center")
    return np.stack([found[0].embedding for found in faces if found])


def match_truth(tracks, appearances, sample_fps: float):
    """Each track's appearance: the one whose box at the track's best moment overlaps it most."""
    rows = []
    for track in tracks:
        t, box = track.best.time_s, track.best.detection.box

        def overlap(a: Appearance) -> float:
            if not a.start_s <= t < a.end_s:
                return 0.0
            x, y = a.position(t)
            return box_overlap(box, (x, y, x + a.size, y + a.size))
        best = max(appearances, key=overlap)
        rows.append((track, best if overlap(best) > 0.1 else None))
    return rows


def truth_times(a: Appearance, sample_fps: float) -> tuple[float, float]:
    """The first and last sampling instants k / sample_fps inside [start, end)."""
    first = np.ceil(a.start_s * sample_fps - 1e-6) / sample_fps
    last = (np.ceil(a.end_s * sample_fps - 1e-6) - 1) / sample_fps
    return float(first) + 0.0, float(last) + 0.0  # + 0.0: no "-0.0"


def decide(pipeline: FacePipeline, tracks, models_dir: Path):
    """Identify's decision for each track's fused embedding; returns (answers, seconds)."""
    gallery_paths, labels = [], []
    for name in PEOPLE:
        for n in (2, 3, 4):
            gallery_paths.append(lfw_photo(name, n))
            labels.append(name)
    strangers = sorted(p for p in LFW_IMAGES.iterdir() if p.name not in PEOPLE + (STRANGER,))[:200]
    for folder in strangers:
        gallery_paths.append(lfw_photo(folder.name))
        labels.append(folder.name)
    gallery = embed_photos(pipeline, gallery_paths)
    labels_arr = np.array(labels)
    scorer = Scorer.for_model(pipeline.embedder.model_info.version)
    threshold = scorer.threshold_at(TARGET_FPIR) if scorer.calibrated else 0.5
    start = time.perf_counter()
    templates = scorer.project(gallery)
    answers = []
    for track in tracks:
        probe = scorer.project(track.fused_embedding()[None])[0]
        similarities = templates @ probe
        names = np.unique(labels_arr)
        best = np.array([similarities[labels_arr == name].max() for name in names])
        top = np.argsort(-best)[:5]
        decision = identify_among(probe, names[top], best[top], comparisons=len(templates), scorer=scorer)
        first = int(decision.order[0])
        name = names[top][first] if decision.known(threshold) else "unknown"
        answers.append(f"{name} ({decision.scores[first]:.2f} vs {threshold:.2f})")
    return answers, time.perf_counter() - start


def _resident_mib() -> float:
    """VmRSS now (Linux), NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentiles(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    q = np.percentile(v, [0, 0.1, 1, 50, 99, 99.9, 100])
    near, far = (np.mean(v >= gate) for gate in (SIMILARITY_NEAR, SIMILARITY_FAR))
    return (f"{v.size} | {q[0]:.2f} | {q[1]:.2f} | {q[2]:.2f} | {q[3]:.2f} | {q[4]:.2f} | {q[5]:.2f} | {q[6]:.2f} "
            f"| {near:.2g} | {far:.2g}")


def similarity_table(pipeline: FacePipeline, cache: Path) -> list[str]:
    """Cosine similarities of FaceNet embeddings: the same face across a clip's sampled frames, other
    people in the same frames, different LFW photos of one person, and different LFW people."""
    from recognition.pipeline.video.decode import sampled_frames  # only this mode decodes by itself

    people = sorted(p.name for p in LFW_IMAGES.iterdir() if (p / f"{p.name}_0002.jpg").is_file())
    same_clip, other_clip = [], []
    for group in range(4):  # 4 clips of 6 people moving at once
        names = people[group * 37:group * 37 + 6 * 6:6]
        plan = [((40 + 400 * (i % 3), 40 + 340 * (i // 3)), (140 + 400 * (i % 3), 120 + 340 * (i // 3)))
                for i in range(6)]
        appearances = [Appearance(lfw_photo(n), 0.0, 4.0, a, b, 150 - 10 * i)
                       for i, (n, (a, b)) in enumerate(zip(names, plan))]
        clip = write_clip(cache / f"similarity-{group}.mp4", appearances, duration_s=4.0, size=(1280, 720))
        per_face: dict[int, list[np.ndarray]] = {}
        for t, frame in sampled_frames(clip, sample_fps=5.0, max_pixels=40_000_000):
            for face in pipeline.process([frame])[0]:
                def overlap(i: int) -> float:
                    x, y = appearances[i].position(t)
                    return box_overlap(face.detection.box, (x, y, x + appearances[i].size, y + appearances[i].size))
                owner = max(range(6), key=overlap)
                if overlap(owner) > 0.2:
                    per_face.setdefault(owner, []).append(face.embedding)
        for i, embeddings in per_face.items():
            e = np.stack(embeddings)
            same_clip += list((e[1:] @ e[0]))
            for j, others in per_face.items():
                if j > i:
                    other_clip += list((e @ np.stack(others).T).ravel())
    genuine_people = people[:300]
    first = embed_photos(pipeline, [lfw_photo(n, 1) for n in genuine_people])
    second = embed_photos(pipeline, [lfw_photo(n, 2) for n in genuine_people])
    n = min(len(first), len(second))
    genuine = np.sum(first[:n] * second[:n], axis=1)
    singles = sorted(p.name for p in LFW_IMAGES.iterdir())[::5][:1000]
    single = embed_photos(pipeline, [lfw_photo(n, 1) for n in singles])
    impostor = (single @ single.T)[np.triu_indices(len(single), k=1)]
    return [f"| pairs | n | min | 0.1% | 1% | median | 99% | 99.9% | max | >= {SIMILARITY_NEAR} "
            f"| >= {SIMILARITY_FAR} |",
            "|---" * 11 + "|",
            f"| same face, clip frames vs its first | {_percentiles(same_clip)} |",
            f"| different people, same clips | {_percentiles(other_clip)} |",
            f"| same person, two LFW photos | {_percentiles(genuine)} |",
            f"| different people, LFW photos | {_percentiles(impostor)} |"]


def continuity_table(pipeline: FacePipeline, cache: Path) -> list[str]:
    """What recognition.pipeline.video.continuity's limits rest on: how much a frame's thumbnail and a
    face's crop thumbnail change between samples, for the same shot and face, at a cut, and when
    another person takes a face's place without a cut."""
    from recognition.pipeline.video.continuity import change, thumbnail
    from recognition.pipeline.video.decode import sampled_frames

    people = sorted(p.name for p in LFW_IMAGES.iterdir() if (p / f"{p.name}_0002.jpg").is_file())[::7][:24]
    same_frame, cut_frame, same_face, swapped_face = [], [], [], []
    for i in range(0, len(people), 2):  # a face moving, then someone else in its place: with and without a cut
        a = Appearance(lfw_photo(people[i]), 0.0, 2.0, (100 + 10 * i, 60), (180 + 10 * i, 100), 140 + 3 * i)
        b = Appearance(lfw_photo(people[i + 1]), 2.0, 4.0, a.position(2.0), (300, 150), a.size)
        for cuts in ((), (2.0,)):
            clip = write_clip(cache / f"continuity-{i}-{len(cuts)}.mp4", [a, b], duration_s=4.0, size=(640, 360),
                              cuts=cuts)
            previous = None
            for t, frame in sampled_frames(clip, sample_fps=5.0, max_pixels=40_000_000):
                faces = pipeline.process([frame])[0]
                current = (t, thumbnail(frame, (32, 18)),
                           thumbnail(faces[0].crop, (16, 16)) if len(faces) == 1 else None)
                if previous is not None:
                    across = previous[0] < 2.0 <= t
                    (cut_frame if across and cuts else same_frame).append(change(previous[1], current[1]))
                    if previous[2] is not None and current[2] is not None:
                        (swapped_face if across else same_face).append(change(previous[2], current[2]))
                previous = current
    rows = [("frame, same shot", same_frame), ("frame, across a cut", cut_frame),
            ("face, same face", same_face), ("face, another person in its place", swapped_face)]
    return ["| grey thumbnail change (levels of 255) | n | min | median | max |", "|---|---|---|---|---|"] + [
        f"| {name} | {len(v)} | {min(v):.1f} | {float(np.median(v)):.1f} | {max(v):.1f} |" for name, v in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-fps", type=float, default=5.0)
    parser.add_argument("--batch-frames", type=int, default=8)
    parser.add_argument("--device", default=os.environ.get("FACEREC_DEVICE", "cpu"), choices=["cpu", "cuda"])
    parser.add_argument("--models-dir", type=Path,
                        default=Path(os.environ.get("FACEREC_MODELS_DIR", REPO_ROOT / "var" / "models")))
    parser.add_argument("--similarities", action="store_true",
                        help="measure the similarity levels the tracker gates on")
    parser.add_argument("--continuity", action="store_true",
                        help="measure the thumbnail changes continuity.py limits")
    args = parser.parse_args()
    pipeline = make_pipeline(args.device, args.models_dir, batch_size=64 if args.device == "cuda" else 32)
    if args.similarities:
        print("\n".join(similarity_table(pipeline, CACHE)))
        return 0
    if args.continuity:
        print("\n".join(continuity_table(pipeline, CACHE)))
        return 0

    clip = bench_clip()
    warm = load_image_file(lfw_photo(PEOPLE[0]))
    pipeline.process([warm])  # load the networks outside the timings
    loaded_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_start, start = _cpu_s(), time.perf_counter()
    resident: dict[int, float] = {}  # quarter of the video -> resident MiB then: flat means streamed

    def note_memory(progress) -> None:
        resident.setdefault(min(int(progress.share * 4), 4), _resident_mib())
    result = track_video(clip, pipeline, sample_fps=args.sample_fps, max_pixels=40_000_000,
                         batch_frames=args.batch_frames, on_progress=note_memory)
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu_start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answers, decide_s = decide(pipeline, result.tracks, args.models_dir)
    duration = result.info.duration_s or 60.0
    total = wall + decide_s

    appearances = bench_appearances()
    matched = match_truth(result.tracks, appearances, args.sample_fps)
    period = 1.0 / args.sample_fps
    lines = []
    for track, appearance, answer in [(t, a, ans) for (t, a), ans in zip(matched, answers)]:
        if appearance is None:
            seen = f"{track.first_seen_s:.1f}-{track.last_seen_s:.1f}"
            lines.append(f"| {track.number} | (no truth) | {seen} | | {answer} | |")
            continue
        first, last = truth_times(appearance, args.sample_fps)
        truth_name = appearance.photo.parent.name
        expected = "unknown" if truth_name == STRANGER else truth_name
        within = abs(track.first_seen_s - first) <= period + 1e-6 and abs(track.last_seen_s - last) <= period + 1e-6
        lines.append(f"| {track.number} | {truth_name} | {track.first_seen_s:.1f}-{track.last_seen_s:.1f} "
                     f"(truth {first:.1f}-{last:.1f}) | {'yes' if within else 'NO'} | {answer} | "
                     f"{'yes' if answer.split(' ')[0] == expected else 'NO'} |")
    found = {a for _, a in matched if a is not None}

    print(f"\nvideo benchmark: device={args.device}, cpus={os.cpu_count()}, {clip.name}, "
          f"sample {args.sample_fps:g} fps, batch {args.batch_frames} frames, detector min face "
          f"{pipeline.detector.min_face_size:.1f} px\n")
    rows = [
        ("video", f"{duration:.1f} s, {result.info.width}x{result.info.height}, {result.info.frame_rate:g} fps, "
                  f"{result.info.codec}"),
        ("frames sampled", f"{result.frames_decoded}"),
        ("wall time (track_video + decide)", f"{total:.1f} s"),
        ("real-time factor", f"{duration / total:.2f}x"),
        ("CPU time of track_video (user + system)", f"{cpu:.1f} s = {cpu / duration:.2f} CPU-s per video s"),
        ("faces embedded / found", f"{result.faces_embedded} / {result.faces_found}"),
    ]
    rows += [(f"stage: {stage}", f"{seconds:.2f} s ({100 * seconds / total:.0f}%)")
             for stage, seconds in result.timings.items()]
    rows.append(("stage: decide", f"{decide_s:.3f} s ({100 * decide_s / total:.1f}%)"))
    rows.append(("peak memory of track_video (ru_maxrss)", f"{peak_mib:.0f} MiB ({loaded_mib:.0f} MiB with the "
                                                           "models loaded, before the video)"))
    rows.append(("resident memory at 0 / 25 / 50 / 75 / 100% of the video",
                 " / ".join(f"{resident[q]:.0f}" for q in sorted(resident)) + " MiB"))
    rows.append(("tracks found / appearances", f"{len(result.tracks)} / {len(appearances)} "
                                                f"({len(found)} appearances matched)"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    print("\n| track | truth | seen (s) | within 1/fps | decided (score vs threshold) | right |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
