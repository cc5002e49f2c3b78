"""Identification at scale: retrain and identify on 1,000 to 100,000 people (a benchmark, not a test).

    .venv/bin/python bench/identify_scale_bench.py [--people 1000,10000,100000] [--json FILE]

Runs the platform's own code on its own tables, in a scratch database created for
the run (`<database>_identify_scale_bench`, migrated like the real one and dropped at
the end), so the real data is never touched; classifier artifacts go to a temporary
folder. For each size N:

  * N identities with 5 synthetic templates each (512-d unit vectors: a random centre
    per person plus noise, two templates of one person at cosine ~0.74, strangers ~0),
    written to the real identities / photos / templates tables, the HNSW index built
    afterwards as the migration defines it;
  * `retrain_s`: recognition.services.retrain from scratch (the Celery task's body),
    `peak_rss_mb` the process's resident memory at its peak during it (sampled every
    20 ms), `artifact_mb` the classifier folder it wrote;
  * `identify_p50_ms` / `identify_p95_ms`: recognition.services.identify_embedding per
    probe (HNSW search, SVM over the candidates, calibrated open-set decision; no
    detection or embedding), over --probes probes after a warm-up: half noisy copies
    of stored templates (reported: how many were answered right), half strangers.

It prints a markdown table; --json writes {"rows": [{"people", "templates", "retrain_s",
"peak_rss_mb", "artifact_mb", "identify_p50_ms", "identify_p95_ms", ...}]}. On 2
cores 100,000 people take about half an hour, most of it loading 500,000 rows and
building their HNSW index.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TEMPLATES_PER_PERSON = 5
IDENTITY_SPREAD = 0.6  # norm of a template's noise around its person's centre (cosine ~0.74 within one,
PROBE_SPREAD = 0.6     # as two LFW photos of one person; strangers ~0)
CHUNK = 20_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class PeakRss:
    """Samples this process's resident set size in a thread; `.peak_mb` after the with-block."""

    def __init__(self, every_s: float = 0.02):
        self.every_s, self.peak_mb, self._stop = every_s, 0.0, threading.Event()

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.rss_mb())
            self._stop.wait(self.every_s)

    def __enter__(self):
        self.peak_mb = self.rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.rss_mb())


def setup_django(classifiers_dir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")
    import django
    from django.conf import settings

    from facerec_site import embedded

    embedded.ensure_started()  # unless DATABASE_URL / CELERY_BROKER_URL are set
    django.setup()
    settings.FACEREC_CLASSIFIERS_DIR = str(classifiers_dir)


def create_scratch_database() -> str:
    """A fresh, migrated database beside the real one (Django's test-database machinery)."""
    from django.db import connection

    name = f"{connection.settings_dict['NAME']}_identify_scale_bench"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    log(f"creating and migrating the scratch database {name}")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return name


def drop_scratch_database(original_name: str) -> None:
    from django.db import connection

    connection.creation.destroy_test_db(original_name, verbosity=0)


def clear_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE recognition_faceembedding, recognition_classifierversion, "
                       "identities_enrollmentimage, identities_consent, identities_identity CASCADE")


def hnsw_index_sql() -> tuple[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'recognition_faceembedding' "
                       "AND indexdef ILIKE '%%USING hnsw%%'")
        name, definition = cursor.fetchone()
    return name, definition


def load_gallery(people: int, model_version: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Write `people` x 5 templates; returns (person centres, timings)."""
    from django.db import connection

    from identities.models import Consent, EnrollmentImage, Identity
    from recognition.models import EMBEDDING_DIM

    timings = {}
    started = time.perf_counter()
    index_name, index_sql = hnsw_index_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {index_name}")
    identities = Identity.objects.bulk_create(
        [Identity(display_name=f"person {i}") for i in range(people)], batch_size=5000)
    consents = Consent.objects.bulk_create(
        [Consent(identity=identity, given_by_name="bench", purpose="scale benchmark") for identity in identities],
        batch_size=5000)
    images = []
    for identity, consent in zip(identities, consents):
        images += [EnrollmentImage(identity=identity, consent=consent, file=f"bench/{identity.pk}-{k}.jpg",
                                   sha256=f"{identity.pk:032x}{k:032x}", status="approved") for k in range(TEMPLATES_PER_PERSON)]
    images = EnrollmentImage.objects.bulk_create(images, batch_size=5000)
    timings["rows_s"] = time.perf_counter() - started

    started = time.perf_counter()
    centres = unit(rng.standard_normal((people, EMBEDDING_DIM), dtype=np.float32))
    sigma = IDENTITY_SPREAD / math.sqrt(EMBEDDING_DIM)
    raw = connection.connection  # psycopg 3 connection under Django's
    from pgvector.psycopg import register_vector

    register_vector(raw)
    with raw.cursor() as cur:
        with cur.copy("COPY recognition_faceembedding (image_id, identity_id, vector, model_name, model_version, "
                      "active, created_at) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["bigint", "bigint", "vector", "text", "text", "bool", "timestamptz"])
            stamp = datetime.now(timezone.utc)
            for start in range(0, len(images), CHUNK):
                batch = images[start:start + CHUNK]
                owners = np.array([img.identity_id for img in batch])
                index = owners - identities[0].pk
                vectors = unit(centres[index] + rng.standard_normal((len(batch), EMBEDDING_DIM),
                                                                    dtype=np.float32) * sigma)
                for image, vector in zip(batch, vectors):
                    copy.write_row((image.pk, image.identity_id, vector, "bench", model_version, True, stamp))
    raw.commit() if not raw.autocommit else None
    timings["templates_s"] = time.perf_counter() - started

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = %s", [f"{max(1, math.ceil(len(images) * 3300 / 2**30))}GB"])
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        cursor.execute(index_sql)
        cursor.execute("ANALYZE recognition_faceembedding")
    timings["index_s"] = time.perf_counter() - started
    return centres, timings


def retrain(model_version: str) -> tuple[float, float, float, object]:
    from recognition import services
    from recognition.models import ClassifierVersion

    version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING, model_version=model_version,
                                               urgent=True)
    with PeakRss() as rss:
        started = time.perf_counter()
        version = services.retrain(version.pk)
        seconds = time.perf_counter() - started
    if version is None or version.status != ClassifierVersion.Status.READY:
        raise SystemExit(f"retrain did not finish: {version and version.status} {version and version.error}")
    size = sum(f.stat().st_size for f in Path(version.artifact_dir).iterdir()) / 2**20
    return seconds, rss.peak_mb, size, version


def identify(model_version: str, centres: np.ndarray, first_pk: int, probes: int, warmup: int,
             rng: np.random.Generator) -> dict:
    from recognition import selectors, services
    from recognition.models import RecognitionThreshold

    gallery = services.current_gallery(model_version)
    threshold = selectors.current_threshold(RecognitionThreshold.Kind.IDENTIFY, model_version=model_version).value
    sigma = PROBE_SPREAD / math.sqrt(centres.shape[1])
    who = rng.integers(0, len(centres), probes + warmup)
    mated = unit(centres[who] + rng.standard_normal((len(who), centres.shape[1]), dtype=np.float32) * sigma)
    strangers = unit(rng.standard_normal((len(who), centres.shape[1]), dtype=np.float32))
    is_mated = np.arange(len(who)) % 2 == 0
    queries = np.where(is_mated[:, None], mated, strangers)
    latencies, right, accepted_strangers = [], 0, 0
    for i, query in enumerate(queries):
        started = time.perf_counter()
        candidates, _, reason = services.identify_embedding(query, gallery=gallery, top_k=5, threshold=threshold)
        known = reason is None
        elapsed = (time.perf_counter() - started) * 1000
        if i < warmup:
            continue
        latencies.append(elapsed)
        if is_mated[i]:
            right += bool(known and candidates[0].identity_id == first_pk + who[i])
        else:
            accepted_strangers += bool(known)
    n_mated = int(is_mated[warmup:].sum())
    return {"identify_p50_ms": float(np.percentile(latencies, 50)),
            "identify_p95_ms": float(np.percentile(latencies, 95)),
            "mated_identified": right / max(n_mated, 1),
            "strangers_accepted": accepted_strangers / max(len(latencies) - n_mated, 1),
            "threshold": threshold, "classifier_has_a_say": gallery.classifier is not None}


def bench_size(people: int, model_version: str, probes: int, warmup: int, seed: int) -> dict:
    from identities.models import Identity

    rng = np.random.default_rng(seed)
    clear_tables()
    log(f"{people:,} people: writing {people * TEMPLATES_PER_PERSON:,} templates")
    centres, timings = load_gallery(people, model_version, rng)
    log(f"{people:,} people: rows {timings['rows_s']:.0f} s, templates {timings['templates_s']:.0f} s, "
        f"HNSW index {timings['index_s']:.0f} s; retraining")
    retrain_s, peak_rss_mb, artifact_mb, version = retrain(model_version)
    log(f"{people:,} people: retrain {retrain_s:.1f} s; identifying {probes} probes")
    first_pk = Identity.objects.order_by("pk").values_list("pk", flat=True).first()
    figures = identify(model_version, centres, first_pk, probes, warmup, rng)
    return {"people": people, "templates": people * TEMPLATES_PER_PERSON, "retrain_s": round(retrain_s, 2),
            "peak_rss_mb": round(peak_rss_mb, 1), "artifact_mb": round(artifact_mb, 2),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()},
            "validation_accuracy": version.validation_accuracy,
            "load_rows_s": round(timings["rows_s"], 1), "load_templates_s": round(timings["templates_s"], 1),
            "index_build_s": round(timings["index_s"], 1)}


def print_table(rows: list[dict]) -> None:
    print("| people | templates | retrain s | peak RSS MB | artifact MB | identify p50 ms | identify p95 ms "
          "| mated right | strangers accepted | HNSW build s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['people']:,} | {r['templates']:,} | {r['retrain_s']:.1f} | {r['peak_rss_mb']:.0f} "
              f"| {r['artifact_mb']:.1f} | {r['identify_p50_ms']:.1f} | {r['identify_p95_ms']:.1f} "
              f"| {100 * r['mated_identified']:.1f}% | {100 * r['strangers_accepted']:.1f}% "
              f"| {r['index_build_s']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", default="1000,10000,100000",
                        help="comma-separated gallery sizes (default 1000,10000,100000)")
    parser.add_argument("--probes", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-version", help="model version the templates are stored under "
                        "(default: the shipped calibration's)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.people.replace(" ", "").split(",") if s]
    except ValueError:
        parser.error("--people takes comma-separated whole numbers, e.g. 1000,10000")
    if not sizes or min(sizes) < 2:
        parser.error("--people: every size needs at least 2 people")

    with tempfile.TemporaryDirectory(prefix="identify-scale-") as classifiers_dir:
        setup_django(Path(classifiers_dir))
        from django.db import connection

        from recognition.pipeline.calibration import CALIBRATIONS_DIR

        # The shipped weights' calibration scores the answers; the network itself is not
        # loaded (it would count in the memory figures, and nothing here embeds a photo).
        model_version = args.model_version or sorted(p.stem for p in CALIBRATIONS_DIR.glob("*.json"))[0]
        original = connection.settings_dict["NAME"]
        create_scratch_database()
        rows = []
        try:
            for people in sizes:
                rows.append(bench_size(people, model_version, args.probes, args.warmup, args.seed))
                if args.json:
                    args.json.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        finally:
            drop_scratch_database(original)
    print(f"model version {model_version}; {os.cpu_count()} CPUs; {args.probes} probes per size "
          f"(half mated, half strangers)\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
