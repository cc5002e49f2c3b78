"""bench/camera_bench.py in the suite, with small numbers (CAMERA_BENCH_* when run as the bench): the
figures are printed; what is asserted is only that the run measured something real (sightings of the
right people), not a speed."""

from __future__ import annotations

import os

import pytest

from bench import camera_bench

pytestmark = [pytest.mark.watcher, pytest.mark.django_db(transaction=True)]


def test_cameras_on_two_cores(enrolled, stream_server, start_watcher):
    width, height = (int(v) for v in os.environ.get("CAMERA_BENCH_SIZE", "640x360").split("x"))
    results = camera_bench.sweep(
        [int(n) for n in os.environ.get("CAMERA_BENCH_CAMERAS", "1").split(",")],
        server=stream_server, start_watcher=start_watcher, people=enrolled.people,
        seconds=float(os.environ.get("CAMERA_BENCH_SECONDS", "6")), size=(width, height),
        fps=float(os.environ.get("CAMERA_BENCH_FPS", "10")),
        sample_fps=float(os.environ.get("CAMERA_BENCH_SAMPLE_FPS", "5")),
        cores=int(os.environ.get("CAMERA_BENCH_CORES", "2")))
    assert results[0]["sightings_right"] >= 1 and results[0]["latency_p95_s"] > 0
