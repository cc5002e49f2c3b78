"""Latency and throughput of POST /api/v1/identify on real face photos (a benchmark, not a test).

Start the platform first (`make run`), then:

    .venv/bin/python bench/api_bench.py [--url http://127.0.0.1:8000] [--seconds 30] [--clients 1 8]

Without --token it creates (or reuses) an API client account `bench` and makes it a
token (expiring in a day) in the platform's database. Prints p50/p95/p99 latency, requests/s and error counts for
each number of concurrent clients.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.shared_data import LFW_IMAGES  # noqa: E402


def bench_token() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")
    import django

    from facerec_site import embedded

    embedded.ensure_started()  # unless DATABASE_URL / CELERY_BROKER_URL are set
    django.setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.services import create_api_client, create_token

    # An API client account (identify and verify), as a kiosk would use; a token per run, expiring in a day.
    user = (get_user_model().objects.filter(username="bench").first()
            or create_api_client(username="bench", actor=None))
    return create_token(user=user, name="api-bench", expires_at=timezone.now() + timedelta(days=1), actor=None)[1]


def photos(n: int = 40) -> list[bytes]:
    paths = sorted(LFW_IMAGES.glob("*/*_0001.jpg"))[:n]
    return [p.read_bytes() for p in paths]


def run(url: str, token: str, images: list[bytes], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(k: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        i = k
        while time.monotonic() < deadline:
            data = images[i % len(images)]
            i += clients
            start = time.perf_counter()
            try:
                response = session.post(f"{url}/api/v1/identify", files={"image": ("probe.jpg", data)}, timeout=60)
                key = None if response.status_code == 200 else str(response.status_code)
            except requests.RequestException as exc:
                key = type(exc).__name__
            elapsed = time.perf_counter() - start
            with lock:
                if key is None:
                    latencies.append(elapsed)
                else:
                    errors[key] = errors.get(key, 0) + 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {"clients": clients, "requests": len(latencies), "errors": errors, "rps": len(latencies) / wall,
            "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=None)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    token = args.token or bench_token()
    images = photos()
    # Load the models in every web worker before timing (each worker loads them once).
    warm = [threading.Thread(target=requests.post, args=(f"{args.url}/api/v1/identify",),
                             kwargs={"files": {"image": ("warm.jpg", images[0])}, "timeout": 120,
                                     "headers": {"Authorization": f"Bearer {token}"}}) for _ in range(6)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    print(f"\nidentify benchmark: {args.url}, {len(images)} LFW photos (250x250), {args.seconds:.0f}s per row\n")
    print("| clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for clients in args.clients:
        r = run(args.url, token, images, clients, args.seconds)
        print(f"| {r['clients']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
              f"{r['p99']:.0f} | {sum(r['errors'].values())} {r['errors'] or ''} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
