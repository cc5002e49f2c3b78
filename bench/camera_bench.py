"""Camera figures (a benchmark, not a test): whether one watcher keeps up with live cameras on 2 cores,
and the latency from a known face entering the picture to its sighting's row (target: one 720p camera
at 25 fps, sampled at 5 fps, keeps up with p95 <= 1.5 s), then how many such cameras 2 cores sustain.

Each camera is an HTTP MJPEG stream served by this process (tests/cameras/streams.py, frames encoded
once) on which an enrolled LFW face enters every `--period` seconds and stays 2.5 s; a real watcher
process (`manage.py watch_cameras`, pinned to `--cores` cores) reads them all. The sighting cooldown is
0, so each entrance is a sighting of its own. A camera count "keeps up" when every camera looks at >= 90%
of its sample rate, the p95 latency is <= the target, and >= 90% of the entrances became a sighting of the
right person.

It runs through pytest, so that it uses a throwaway test database, never the platform's data:

    .venv/bin/python bench/camera_bench.py [--cameras 1,2,3,4,5,6,8] [--seconds 30] [--size 1280x720] [--fps 25]

(TEST_DATABASE_NAME / TEST_BROKER_DB choose the database and broker db, as for the tests.)
tests/bench/test_camera_bench.py runs the same code with small numbers in the suite.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LATENCY_TARGET_S = 1.5
ENTER_AT_S, STAY_S = 0.5, 2.5  # within each period


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def run_cameras(n: int, *, server, start_watcher, people: dict, seconds: float, size=(1280, 720), fps: float = 25,
                sample_fps: float = 5, period_s: float = 5.0, cores: int = 2) -> dict:
    """n cameras read by one watcher for `seconds` (after a warm-up); the figures of that run."""
    from cameras.models import Camera, Sighting
    from tests.cameras.conftest import camera_for, wait_until
    from tests.cameras.streams import Programme
    from tests.video_clips import Appearance, lfw_photo

    names = sorted(people)
    side = round(size[1] * 0.3)  # a face a third of the picture high: a door camera
    programmes, cameras = {}, []
    t0 = time.time() + 3600  # nobody until the watcher is ready
    for k in range(n):
        person = names[k % len(names)]
        path = f"/bench-{k}.mjpg"
        x0, y = size[0] // 8, size[1] // 4
        programmes[path] = Programme(size=size, fps=fps, loop_s=period_s, t0=t0, appearances=[Appearance(
            lfw_photo(person, 4), ENTER_AT_S, ENTER_AT_S + STAY_S, (x0, y), (x0 + size[0] // 3, y), size=side)])
        server.programmes[path] = programmes[path]
        cameras.append((camera_for(server, path, name=f"bench {k}", sample_fps=sample_fps), people[person]))
    watcher = start_watcher(f"bench-{n}", max_cameras=n, cpus=cores, FACEREC_SIGHTING_COOLDOWN_S=0,
                            FACEREC_CAMERA_LEASE_S=6)
    try:
        wait_until(lambda: Camera.objects.filter(state="connected").count() == n, timeout_s=120,
                   what="every camera read", watchers=[watcher])
        t0 = time.time() + 0.2
        for programme in programmes.values():  # the loops start now, together; their JPEGs are warm already
            programme.t0 = t0
        time.sleep(period_s)  # warm-up: one visit each
        start = time.time()
        time.sleep(seconds)
        end = time.time()
        fps_seen = [c.fps or 0.0 for c in Camera.objects.filter(pk__in=[c.pk for c, _ in cameras])]
    finally:
        watcher.stop()
    latencies, right, wrong = [], 0, 0
    visits = sum(1 for k in range(math.ceil((end - t0) / period_s) + 1)
                 if start <= t0 + k * period_s + ENTER_AT_S and t0 + k * period_s + ENTER_AT_S + 1.0 <= end) * n
    for camera, identity in cameras:
        for row in Sighting.objects.filter(camera=camera, created_at__gte=_aware(start), created_at__lte=_aware(end)):
            entered = t0 + math.floor((row.first_seen.timestamp() - t0 - ENTER_AT_S + 0.5) / period_s) * period_s
            entered += ENTER_AT_S
            if entered < start or entered + 1.0 > end:  # only the entrances counted in `visits`
                continue
            latencies.append(row.created_at.timestamp() - entered)
            right, wrong = (right + 1, wrong) if row.identity_id == identity.pk else (right, wrong + 1)
    Camera.objects.filter(pk__in=[c.pk for c, _ in cameras]).delete()
    p95 = percentile(latencies, 0.95)
    found = right / visits if visits else 0.0
    return {"cameras": n, "size": f"{size[0]}x{size[1]}", "stream_fps": fps, "sample_fps": sample_fps,
            "cores": cores, "seconds": round(end - start, 1), "fps_min": min(fps_seen),
            "fps_mean": round(statistics.mean(fps_seen), 2), "entrances": visits, "sightings_right": right,
            "sightings_wrong": wrong, "latency_p50_s": round(percentile(latencies, 0.5), 3),
            "latency_p95_s": round(p95, 3), "latency_max_s": round(max(latencies), 3) if latencies else None,
            "keeps_up": bool(min(fps_seen) >= 0.9 * sample_fps and p95 <= LATENCY_TARGET_S and found >= 0.9)}


def _aware(wall_s: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(wall_s, tz=UTC)


def sweep(counts: list[int], **kwargs) -> list[dict]:
    """run_cameras for each count, printed as it goes; stops after the first count that does not keep up."""
    results = []
    for n in counts:
        result = run_cameras(n, **kwargs)
        print(f"\ncameras on {result['cores']} cores: {result}", flush=True)
        results.append(result)
        if not result["keeps_up"]:
            break
    sustained = [r["cameras"] for r in results if r["keeps_up"]]
    first = results[0]
    print(f"\n{max(sustained) if sustained else 0} camera(s) of {first['size']} at {first['stream_fps']} fps, "
          f"sampled at {first['sample_fps']} fps, sustained on {first['cores']} cores "
          f"(latency target p95 <= {LATENCY_TARGET_S} s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1,2,3,4,5,6,8", help="camera counts to try, in order")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per count")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=25.0, help="the streams' frame rate")
    parser.add_argument("--sample-fps", type=float, default=5.0)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.update(CAMERA_BENCH_CAMERAS=args.cameras, CAMERA_BENCH_SECONDS=str(args.seconds),
                      CAMERA_BENCH_SIZE=args.size, CAMERA_BENCH_FPS=str(args.fps),
                      CAMERA_BENCH_SAMPLE_FPS=str(args.sample_fps), CAMERA_BENCH_CORES=str(args.cores))
    os.chdir(REPO_ROOT)
    sys.path.insert(0, str(REPO_ROOT))
    import pytest

    return pytest.main(["tests/bench/test_camera_bench.py", "-q", "-s", "-p", "no:cacheprovider"])


if __name__ == "__main__":
    sys.exit(main())
