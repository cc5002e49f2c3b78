"""The platform end to end, through its API and its real worker (a benchmark, not a test).

    .venv/bin/python bench/platform_bench.py [--photos 200] [--clients 1 8] [--requests 64]

Starts a platform of its own (`python -m facerec_site.run` in a scratch var directory, as
bench/load_bench.py --start does: its own PostgreSQL, broker, worker, beat and gunicorn,
API rate limits raised; only the model weights are shared) and measures:

- enrollment: --photos LFW photos (5 each of the first LFW people with at least 5; each
  person created with consent first, not timed) uploaded through
  POST /api/v1/identities/{id}/photos/, one request per person, back to back; timed from
  the first upload until the worker has left every photo in a final state
  (`awaiting_review`, or `rejected` by the quality check): photos/s, and upload-to-review
  latency p50/p95 per photo. The worker's models are loaded before (one warm-up photo).
- identify: once the photos are approved, POST /api/v1/identify with unseen photos of the
  enrolled people and of strangers, in turn, from 1 and from 8 concurrent clients (each
  client its own session), --requests requests in all per run after a warm-up of each web
  process: requests/s and latency p50/p95/p99.

Prints one markdown table per part. Each request's figures include HTTP, decoding, MTCNN,
FaceNet and the search, as a client sees them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench import load_bench  # noqa: E402
from bench.load_bench import Api, SetupError, Workload, _await_photos, _call  # noqa: E402
from tests.shared_data import LFW_IMAGES  # noqa: E402

PHOTOS_PER_PERSON = 5


def people_with_photos(n_people: int, per_person: int = PHOTOS_PER_PERSON, skip: int = 0) -> list[tuple[str, list[Path]]]:
    """The first LFW people (alphabetically, after `skip`) with more than `per_person` photos:
    `per_person` to enroll; the next one is their unseen probe."""
    found = []
    for folder in sorted(p for p in LFW_IMAGES.iterdir() if p.is_dir()):
        photos = sorted(folder.glob("*.jpg"))
        if len(photos) > per_person:
            found.append((folder.name, photos[:per_person + 1]))
    return found[skip:skip + n_people]


def percentiles(values_s: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values_s, n=100, method="inclusive") if len(values_s) >= 2 else values_s * 99
    return q[49] * 1000, q[94] * 1000, q[98] * 1000


def create_person(session, api: Api, person: str, run_id: str) -> int:
    base = f"{api.url}/api/v1"
    name = person.replace("_", " ")
    identity = _call(session, "POST", f"{base}/identities/", 201, json={
        "display_name": f"platform-bench: {name}", "external_ref": f"platform-bench:{run_id}:{person}"}).json()
    _call(session, "POST", f"{base}/identities/{identity['id']}/consents/", 201, json={
        "given_by_name": name, "purpose": "platform benchmark", "wording_version": "platform-bench"})
    return identity["id"]


def upload(session, api: Api, identity_id: int, photos: list[Path]) -> list[int]:
    files = [("photos", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
    accepted = _call(session, "POST", f"{api.url}/api/v1/identities/{identity_id}/photos/", 202, files=files).json()
    return [photo["id"] for photo in accepted["photos"]]


def enrollment(api: Api, n_photos: int, run_id: str) -> tuple[dict, list[int], dict[str, int], list[bytes]]:
    """Upload, wait for the worker; returns (figures, photo ids ready for review, person -> id, probes)."""
    n_people = max(1, n_photos // PHOTOS_PER_PERSON)
    people = people_with_photos(n_people + 1)
    warm_person, people = people[0], people[1:]
    with api.session() as session:
        # The worker loads its models on its first photo: that one is not timed.
        warm_id = create_person(session, api, warm_person[0], run_id)
        _await_photos(session, api, upload(session, api, warm_id, warm_person[1][:1]), timeout_s=600)
        ids = {person: create_person(session, api, person, run_id) for person, _ in people}
        sent_at: dict[int, float] = {}
        started = time.perf_counter()
        for person, photos in people:
            for photo_id in upload(session, api, ids[person], photos[:PHOTOS_PER_PERSON]):
                sent_at[photo_id] = time.perf_counter()
        upload_s = time.perf_counter() - started
        done_at: dict[int, float] = {}
        final: dict[int, dict] = {}
        deadline = time.monotonic() + 3600
        while len(done_at) < len(sent_at) and time.monotonic() < deadline:
            for photo_id in [i for i in sent_at if i not in done_at]:
                photo = _call(session, "GET", f"{api.url}/api/v1/photos/{photo_id}/", 200).json()
                if photo["status"] in load_bench.FINAL_PHOTO_STATES:
                    done_at[photo_id], final[photo_id] = time.perf_counter(), photo
            time.sleep(0.2)
        total_s = time.perf_counter() - started
    states: dict[str, int] = {}
    for photo in final.values():
        key = photo["status"] + (f" ({photo['rejection_reason']})" if photo.get("rejection_reason") else "")
        states[key] = states.get(key, 0) + 1
    latencies = [done_at[i] - sent_at[i] for i in done_at]
    figures = {"photos": len(sent_at), "people": len(people), "upload_s": upload_s, "total_s": total_s,
               "photos_per_s": len(done_at) / total_s, "latency_ms": percentiles(latencies) if latencies else None,
               "states": states, "unfinished": len(sent_at) - len(done_at)}
    ready = [i for i, photo in final.items() if photo["status"] == "awaiting_review"]
    probes = [photos[PHOTOS_PER_PERSON].read_bytes() for _, photos in people]
    return figures, ready, ids, probes


def print_enrollment(f: dict) -> None:
    print(f"## Enrollment through the worker: {f['photos']} LFW photos of {f['people']} people\n")
    print("| photos | upload requests s | upload to final state s | photos/s | p50 ms | p95 ms | outcome |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    p50, p95, _ = f["latency_ms"] or (float("nan"),) * 3
    outcome = ", ".join(f"{n} {state}" for state, n in sorted(f["states"].items()))
    if f["unfinished"]:
        outcome += f", {f['unfinished']} unfinished"
    print(f"| {f['photos']} | {f['upload_s']:.1f} | {f['total_s']:.1f} | {f['photos_per_s']:.2f} | {p50:.0f} | "
          f"{p95:.0f} | {outcome} |\n", flush=True)


def identify_runs(api: Api, probes: list[bytes], clients_list: list[int], n_requests: int) -> list[tuple]:
    strangers = [p.read_bytes() for p in sorted(LFW_IMAGES.glob("*/*_0001.jpg"))[-len(probes):]]
    mixed = [data for pair in zip(probes, strangers) for data in pair]
    workload = Workload(gallery={}, identify_probes=mixed, verify_claims=[], upload_photos=[])
    rows = []
    for clients in clients_list:
        load_bench.warm_up(api, mixed, clients)
        result = load_bench.run_load(api, workload, mix={"identify": 1}, clients=clients, duration_s=1800,
                                     ops_per_client=max(1, n_requests // clients))
        stats = result.ops["identify"]
        rows.append((clients, stats.count, stats.ok / result.wall_s, *percentiles(stats.latencies_s or [float("nan")]),
                     sum(stats.errors.values())))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200, help="enrollment photos (5 per person)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="identify client counts")
    parser.add_argument("--requests", type=int, default=64, help="identify requests per client count")
    args = parser.parse_args(argv)
    run_id = time.strftime("%Y%m%d%H%M%S")
    try:
        with load_bench.started_platform() as (url, username, password):
            api = Api.login(url, username, password)
            figures, ready, ids, probes = enrollment(api, args.photos, run_id)
            print_enrollment(figures)
            with api.session() as session:
                if ready:
                    _call(session, "POST", f"{api.url}/api/v1/photos/approve/", 200, json={"ids": ready})
            rows = identify_runs(api, probes, args.clients, args.requests)
    except SetupError as exc:
        print(f"platform bench stopped: {exc}", file=sys.stderr)
        return 2
    print(f"## Identify through the API: gallery of {len(ids)} people, probes = their unseen photo or a "
          "stranger's, in turn\n")
    print("| clients | requests | requests/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for clients, count, rate, p50, p95, p99, errors in rows:
        print(f"| {clients} | {count} | {rate:.2f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {errors} |")
    return 1 if figures["unfinished"] or any(row[-1] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
