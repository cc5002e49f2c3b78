"""Kiosk figures (a benchmark, not a test): the round trip of one webcam frame, p50 / p95 / max
(target: p95 <= 250 ms on 2 cores), in identify and in verify mode.

A round trip is what the kiosk page waits for between two frames: encoding the 640x480 camera
picture as JPEG (the page's canvas.toBlob), the POST to /recognize/kiosk/frame/ over HTTP with the
session and CSRF token, the server's decode, detection, embedding, liveness (the site's policy),
search and decision, and reading the JSON answer. The frames show a real LFW face (not a photo
the person is enrolled with) moving a little, as a person in front of a camera.

It runs through pytest, so that it uses a throwaway test database and a live server thread
(tests/conftest.py), never the platform's data:

    .venv/bin/python bench/kiosk_bench.py [--frames 100] [--people 4] [--cores 2]

(TEST_DATABASE_NAME / TEST_BROKER_DB choose the database and broker db, as for the tests.)
tests/bench/test_kiosk_bench.py runs the same code with small numbers in the suite.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 250
WARM_UP_FRAMES = 3  # the first frames load the models and warm the caches: not counted
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def jpeg(frame, quality: int = 85) -> bytes:
    """What the page sends: the camera picture as a JPEG (its canvas.toBlob quality is 0.85)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def signed_in(base_url: str, username: str, password: str):
    """A requests session signed in through /login/, and the kiosk page's CSRF token."""
    import requests

    http = requests.Session()
    login = http.get(f"{base_url}/login/")
    token = CSRF_INPUT.search(login.text).group(1)
    _send_secure_cookies_over_loopback(http)
    http.post(f"{base_url}/login/", data={"username": username, "password": password,
                                          "csrfmiddlewaretoken": token}, headers={"Referer": f"{base_url}/login/"})
    _send_secure_cookies_over_loopback(http)
    page = http.get(f"{base_url}/recognize/kiosk/")
    page.raise_for_status()
    _send_secure_cookies_over_loopback(http)  # the CSRF cookie the login rotated
    return http, CSRF_INPUT.search(page.text).group(1)


def _send_secure_cookies_over_loopback(http) -> None:
    # The site's cookies are `Secure`; browsers send those to http://127.0.0.1 and localhost (secure
    # contexts), requests does not, so it is told to here.
    for cookie in http.cookies:
        cookie.secure = False


SERVER_TIMING = re.compile(r"frame;dur=([0-9.]+)")


def round_trips(http, csrf_token: str, base_url: str, frames: Iterable, *, mode: str, identity_id: int | None = None,
                run: str = "bench", check: Callable[[dict], None] | None = None,
                server_ms: list[float] | None = None, cpu_ms: list[float] | None = None) -> list[float]:
    """Milliseconds per frame, JPEG encoding to parsed answer, sent one after the other as the page does;
    `server_ms` gets the frame view's own share of each (its Server-Timing header), `cpu_ms` the CPU time
    this process spent on each, all threads (with the live server in this process: client and server),
    the figure a busy machine does not change."""
    samples = []
    for frame in frames:
        cpu_started = time.process_time()
        started = time.perf_counter()
        response = http.post(f"{base_url}/recognize/kiosk/frame/",
                             files={"frame": ("frame.jpg", jpeg(frame), "image/jpeg")},
                             data={"mode": mode, "run": run, "identity": identity_id or "",
                                   "csrfmiddlewaretoken": csrf_token},
                             headers={"Referer": f"{base_url}/recognize/kiosk/"})
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("application/json"):
            raise AssertionError(f"frame answered {response.status_code} ({response.url}): {response.text[:300]}")
        answer = response.json()
        samples.append((time.perf_counter() - started) * 1000)
        if cpu_ms is not None:
            cpu_ms.append((time.process_time() - cpu_started) * 1000)
        if server_ms is not None:
            server_ms.append(float(SERVER_TIMING.search(response.headers["Server-Timing"]).group(1)))
        _send_secure_cookies_over_loopback(http)  # the session cookie, sent again with the run's state
        if check is not None:
            check(answer)
    return samples


def summary(samples: list[float], server_ms: list[float] | None = None, cpu_ms: list[float] | None = None) -> dict:
    figures = {"frames": len(samples), "p50_ms": round(statistics.median(samples), 1),
               "p95_ms": round(percentile(samples, 0.95), 1), "max_ms": round(max(samples), 1),
               "frames_per_s_at_p50": round(1000 / statistics.median(samples), 1),
               "target_p95_ms": TARGET_P95_MS, "cores": len(os.sched_getaffinity(0)),
               "load_average_1m": round(os.getloadavg()[0], 2)}
    if server_ms:
        figures.update(server_p50_ms=round(statistics.median(server_ms), 1),
                       server_p95_ms=round(percentile(server_ms, 0.95), 1))
    if cpu_ms:
        figures.update(cpu_p50_ms=round(statistics.median(cpu_ms), 1), cpu_p95_ms=round(percentile(cpu_ms, 0.95), 1))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="frames timed per mode (after the warm-up)")
    parser.add_argument("--people", type=int, default=4, help="people enrolled (1-4, real LFW photos)")
    parser.add_argument("--cores", type=int, default=0, help="pin the whole run (server included) to this many "
                                                             "cores; 0: those the machine gives")
    args = parser.parse_args(argv)
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])
    os.environ["KIOSK_BENCH_FRAMES"], os.environ["KIOSK_BENCH_PEOPLE"] = str(args.frames), str(args.people)
    os.chdir(REPO_ROOT)
    sys.path.insert(0, str(REPO_ROOT))
    import pytest

    return pytest.main(["tests/bench/test_kiosk_bench.py", "-q", "-s", "-p", "no:cacheprovider"])


if __name__ == "__main__":
    sys.exit(main())
