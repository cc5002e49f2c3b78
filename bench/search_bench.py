"""Nearest-neighbour search on the real pgvector: exact scan vs HNSW (a benchmark, not a test).

    .venv/bin/python bench/search_bench.py [--sizes 10000 100000] [--full] [--queries 200]
        [--ef-search 40 100 200] [--halfvec] [--m 32 --ef-construction 128]

Uses the platform's own database (DATABASE_URL, or the embedded PostgreSQL+pgvector
under var/ that settings start), but never the rows of recognition_faceembedding:
everything happens in a scratch table `bench_faceembedding` with the same column
type as FaceEmbedding.vector and the same HNSW index definition (m, ef_construction
and operator class are read from FaceEmbedding.Meta.indexes, so they stay in sync).
The scratch table is dropped at the end, also on Ctrl-C, SIGTERM or an error.

For each N it
  * generates N random 512-d unit vectors shaped like face templates: N/5
    identities, each a random centre plus noise, L2-normalised (two photos of one
    person have cosine similarity ~0.7, different people ~0), seeded;
  * loads them with binary COPY (psycopg 3 `cursor.copy`, rows packed by numpy in
    pgvector's binary format) and reports rows/s, with and without generation;
  * builds the HNSW index after the load (maintenance_work_mem, one parallel
    maintenance worker) and reports the build time, then ANALYZEs;
  * runs Q queries (noisy copies of random stored vectors), top-10 by cosine
    distance `ORDER BY vector <=> q LIMIT 10`:
      - exact: index scans disabled in the query's transaction (sequential scan),
        the ground truth;
      - HNSW: `SET LOCAL hnsw.ef_search = X` for each X in --ef-search (plus the
        ef_search identify would use at that size), EXPLAINed once to confirm the index is used;
    and reports p50/p99/mean latency of the SELECT alone (client round trip over
    the connection, after a warm-up), recall@1, recall@10, top-1 identity
    agreement of HNSW against the exact answer, and "same-identity recall": the
    share of the exact top-10 rows of the query's own identity that HNSW found.
    With ~5 templates per identity, exact ranks ~6-10 are unrelated faces at
    near-equal distances (random directions in 512-d), which an approximate index
    legitimately misses; recall@10 counts those, same-identity recall does not;
  * reports the table and index sizes.

It prints one markdown table per N after a summary header. The default run
(10k + 100k) takes about 6 minutes on 2 cores, most of it the 100k index build
(~3.5 min) and the 100k exact scans (~0.6 s each). --full adds 1,000,000 vectors,
which takes LONG (likely one to two hours on 2 cores: the index build alone is
~10x the 100k one, its graph needs maintenance_work_mem of ~4GB (auto), and each
exact query scans ~2.7 GB) and needs ~8 GB of free disk and ~6 GB of RAM.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TABLE = "bench_faceembedding"
INDEX = "bench_faceembedding_vector_hnsw"
K = 10
IDENTITY_SPREAD = 0.65  # norm of a photo's noise around its identity centre (cos ~0.7 within one identity)
QUERY_SPREAD = 0.5      # norm of a query's noise around the stored vector it comes from
COPY_CHUNK = 50_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- Django / schema --------------------------------------------------------------


@dataclass
class Schema:
    conn_kwargs: dict
    column_type: str      # e.g. vector(512), as Django creates FaceEmbedding.vector
    dim: int
    index_method: str     # hnsw
    opclass: str          # vector_cosine_ops
    with_params: list[str]
    real_indexdef: str | None


def load_schema() -> Schema:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")
    import django

    from facerec_site import embedded

    embedded.ensure_started()  # unless DATABASE_URL / CELERY_BROKER_URL are set
    django.setup()
    from django.db import connection
    from pgvector.django import HnswIndex

    from recognition.models import FaceEmbedding

    vector_field = FaceEmbedding._meta.get_field("vector")
    hnsw = [i for i in FaceEmbedding._meta.indexes if isinstance(i, HnswIndex) and i.fields == ["vector"]]
    if len(hnsw) != 1:
        raise SystemExit(f"expected one HNSW index on FaceEmbedding.vector, found {len(hnsw)}")
    index = hnsw[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index.name])
        row = cursor.fetchone()
    params = connection.get_connection_params()
    # A plain psycopg connection to the same database: default (server-binding) cursor,
    # pgvector's binary adapters, our own session settings; Django's connection is left alone.
    conn_kwargs = {k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
    connection.close()
    return Schema(
        conn_kwargs=conn_kwargs,
        column_type=vector_field.db_type(connection),
        dim=vector_field.dimensions,
        index_method=index.suffix,
        opclass=(index.opclasses or ["vector_l2_ops"])[0],
        with_params=index.get_with_params(),
        real_indexdef=row[0] if row else None,
    )


def connect(schema: Schema):
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(**schema.conn_kwargs, autocommit=True)
    register_vector(conn)
    return conn


def drop_scratch(schema: Schema) -> None:
    """Drop the scratch table on a fresh connection (the benchmark's may be mid-cancel)."""
    import psycopg

    with psycopg.connect(**schema.conn_kwargs, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


# --- data -------------------------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class Dataset:
    """N face-like unit vectors, generated chunk by chunk (1M x 512 floats is 2 GB)."""

    def __init__(self, n: int, dim: int, seed: int, n_queries: int):
        self.n, self.dim = n, dim
        self.n_identities = max(1, n // 5)
        rng = np.random.default_rng(seed)
        self.centres = unit(rng.standard_normal((self.n_identities, dim), dtype=np.float32))
        self.identity = rng.integers(0, self.n_identities, n)  # ~5 photos per identity, Poisson-ish
        self.rng = rng
        self.query_rows = rng.choice(n, size=n_queries, replace=n_queries > n)
        self._query_sources = np.empty((n_queries, dim), np.float32)

    def chunks(self, size: int = COPY_CHUNK):
        """Yield (first_row, identity_ids, vectors); remembers the rows queries are made from."""
        sigma = IDENTITY_SPREAD / math.sqrt(self.dim)
        for start in range(0, self.n, size):
            ids = self.identity[start:start + size]
            noise = self.rng.standard_normal((len(ids), self.dim), dtype=np.float32) * sigma
            vectors = unit(self.centres[ids] + noise)
            hit = (self.query_rows >= start) & (self.query_rows < start + len(ids))
            self._query_sources[hit] = vectors[self.query_rows[hit] - start]
            yield start, ids, vectors

    def queries(self) -> np.ndarray:
        sigma = QUERY_SPREAD / math.sqrt(self.dim)
        noise = self.rng.standard_normal(self._query_sources.shape, dtype=np.float32) * sigma
        return unit(self._query_sources + noise)


# --- measurements -----------------------------------------------------------------


@dataclass
class SearchResult:
    label: str
    latencies_ms: list[float]
    ids: list[list[int]]
    identities: list[list[int]]
    plan: str = ""
    recall1: float = float("nan")
    recall10: float = float("nan")
    identity1: float = float("nan")
    same_identity: float = float("nan")


@dataclass
class SizeReport:
    n: int
    n_identities: int
    load_s: float = 0.0
    generate_s: float = 0.0
    index_s: float = 0.0
    analyze_s: float = 0.0
    maintenance_work_mem: str = ""
    total_size: str = ""
    table_size: str = ""
    index_size: str = ""
    index_bytes: int = 0
    halfvec_index_s: float = 0.0
    halfvec_index_size: str = ""
    halfvec_index_bytes: int = 0
    searches: list[SearchResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    not_measured: list[str] = field(default_factory=list)


def create_table(conn, schema: Schema) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, identity_id bigint NOT NULL, "
                 f"vector {schema.column_type} NOT NULL)")


def index_sql(schema: Schema, halfvec: bool = False) -> str:
    """The platform's index definition; with halfvec, the same graph over half-precision
    copies of the vectors (pgvector's expression index), the table keeping full precision."""
    with_clause = f" WITH ({', '.join(schema.with_params)})" if schema.with_params else ""
    if halfvec:
        opclass = schema.opclass.replace("vector_", "halfvec_", 1)
        return (f"CREATE INDEX {INDEX} ON {TABLE} USING {schema.index_method} "
                f"(({halfvec_expr(schema)}) {opclass}){with_clause}")
    return f"CREATE INDEX {INDEX} ON {TABLE} USING {schema.index_method} (vector {schema.opclass}){with_clause}"


def halfvec_expr(schema: Schema) -> str:
    return f"(vector::halfvec({schema.dim}))"


def order_by(schema: Schema, halfvec: bool) -> str:
    if halfvec:
        return f"{halfvec_expr(schema)} <=> %s::halfvec({schema.dim})"
    return "vector <=> %s"


COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # signature, flags, header extension length
COPY_TRAILER = b"\xff\xff"


def copy_rows(first_id: int, identity_ids: np.ndarray, vectors: np.ndarray) -> bytes:
    """Rows (id, identity_id, vector) in PostgreSQL's binary COPY format, packed by numpy.

    The vector field is pgvector's binary send/recv format (int16 dim, int16 unused,
    big-endian float4s), the same bytes pgvector.psycopg's binary dumper writes, so
    the measured rate is the server's ingestion rather than a Python loop per row.
    """
    n, dim = vectors.shape
    row = np.dtype([("nfields", ">i2"), ("len_id", ">i4"), ("id", ">i8"), ("len_ident", ">i4"),
                    ("ident", ">i8"), ("len_vec", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                    ("vec", ">f4", (dim,))])
    out = np.empty(n, row)
    out["nfields"], out["len_id"], out["len_ident"], out["len_vec"] = 3, 8, 8, 4 + 4 * dim
    out["id"] = np.arange(first_id, first_id + n)
    out["ident"] = identity_ids
    out["dim"], out["unused"] = dim, 0
    out["vec"] = vectors
    return out.tobytes()


def load(conn, data: Dataset) -> tuple[float, float]:
    """COPY the dataset in; returns (total seconds, seconds spent generating and packing)."""
    start = time.perf_counter()
    generating = 0.0
    with conn.cursor() as cur:
        with cur.copy(f"COPY {TABLE} (id, identity_id, vector) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(COPY_SIGNATURE)
            chunks = data.chunks()
            while True:
                t0 = time.perf_counter()
                chunk = next(chunks, None)
                payload = copy_rows(chunk[0] + 1, chunk[1], chunk[2]) if chunk else b""
                generating += time.perf_counter() - t0
                if chunk is None:
                    break
                copy.write(payload)
            copy.write(COPY_TRAILER)
    conn.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), {data.n})")
    return time.perf_counter() - start, generating


def plan_of(conn, setup: str, query: np.ndarray, order: str = "vector <=> %s") -> str:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(setup)
        cur.execute(f"EXPLAIN SELECT id, identity_id FROM {TABLE} ORDER BY {order} LIMIT {K}", (query,))
        lines = [r[0] for r in cur.fetchall()]
    return "\n".join(lines)


def summarise_plan(plan: str) -> str:
    if INDEX in plan:
        return "Index Scan (hnsw)"
    for node in ("Parallel Seq Scan", "Seq Scan"):
        if node in plan:
            return node + (" + Gather Merge" if "Gather Merge" in plan else "")
    return plan.splitlines()[0] if plan else "?"


def search(conn, label: str, setup: str, queries: np.ndarray, warmup: int,
           order: str = "vector <=> %s") -> SearchResult:
    sql = f"SELECT id, identity_id FROM {TABLE} ORDER BY {order} LIMIT {K}"
    result = SearchResult(label, [], [], [])
    with conn.cursor() as cur:
        for i in range(-warmup, len(queries)):
            q = queries[i % len(queries)]
            with conn.transaction():
                cur.execute(setup)
                t0 = time.perf_counter()
                cur.execute(sql, (q,))
                rows = cur.fetchall()
                elapsed = (time.perf_counter() - t0) * 1000
            if i >= 0:
                result.latencies_ms.append(elapsed)
                result.ids.append([r[0] for r in rows])
                result.identities.append([r[1] for r in rows])
    return result


def score(result: SearchResult, truth: SearchResult, source_identity: np.ndarray) -> None:
    """recall@1/@10 against the exact answer, top-1 identity agreement, and the recall of the
    exact top-10 rows that belong to the query's own identity (the neighbours that matter)."""
    r1 = r10 = id1 = same_found = same_total = 0.0
    for got, want, got_id, want_id, source in zip(result.ids, truth.ids, result.identities,
                                                  truth.identities, source_identity):
        r1 += bool(got[:1]) and got[0] == want[0]
        r10 += len(set(got[:K]) & set(want[:K])) / len(want[:K])
        id1 += bool(got_id[:1]) and got_id[0] == want_id[0]
        same = {row for row, ident in zip(want, want_id) if ident == source}
        same_found += len(same & set(got))
        same_total += len(same)
    n = len(truth.ids)
    result.recall1, result.recall10, result.identity1 = r1 / n, r10 / n, id1 / n
    result.same_identity = same_found / same_total if same_total else float("nan")


def build_index(conn, schema: Schema, report: "SizeReport", args, halfvec: bool) -> tuple[float, float, list[str]]:
    """Build the HNSW index (timed) and ANALYZE; returns (build s, analyze s, server notices)."""
    notices: list[str] = []
    handler = lambda diag: notices.append(f"{diag.severity}: {diag.message_primary}")  # noqa: E731
    conn.add_notice_handler(handler)
    try:
        report.maintenance_work_mem = maintenance_work_mem(args.maintenance_work_mem, report.n)
        conn.execute(f"SET maintenance_work_mem = '{report.maintenance_work_mem}'")
        conn.execute(f"SET max_parallel_maintenance_workers = {args.parallel_workers}")
        t0 = time.perf_counter()
        conn.execute(index_sql(schema, halfvec))
        build_s = time.perf_counter() - t0
        conn.execute("RESET maintenance_work_mem")
        conn.execute("RESET max_parallel_maintenance_workers")
        t0 = time.perf_counter()
        conn.execute(f"ANALYZE {TABLE}")
        analyze_s = time.perf_counter() - t0
    finally:
        conn.remove_notice_handler(handler)
    return build_s, analyze_s, notices


def sizes(conn) -> tuple[str, str, str, int]:
    return conn.execute(
        f"SELECT pg_size_pretty(pg_total_relation_size('{TABLE}')), pg_size_pretty(pg_table_size('{TABLE}')), "
        f"pg_size_pretty(pg_relation_size('{INDEX}')), pg_relation_size('{INDEX}')").fetchone()


def measure_hnsw(conn, schema: Schema, report: "SizeReport", queries: np.ndarray, truth: SearchResult,
                 source_identity: np.ndarray, ef_values: list[int], warmup: int, halfvec: bool) -> None:
    order = order_by(schema, halfvec)
    kind = "HNSW halfvec" if halfvec else "HNSW"
    for ef in ef_values:
        setup = f"SET LOCAL hnsw.ef_search = {int(ef)}"
        plan = plan_of(conn, setup, queries[0], order)
        if INDEX not in plan:
            # The planner's cost of a wide search over a dense graph can exceed a scan's:
            # PostgreSQL would answer exactly, slowly. Say so and go on with the other rows.
            scan = next((line.strip() for line in plan.splitlines() if "Scan" in line), plan.splitlines()[0])
            notice = (f"{kind} ef_search={ef}: the planner chose `{scan.split('->')[-1].split('  (')[0].strip()}`, "
                      f"not {INDEX}: not measured")
            report.not_measured.append(notice)
            log(f"N={report.n:,}: {notice}")
            continue
        res = search(conn, f"{kind} ef_search={ef}", setup, queries, warmup, order)
        res.plan = plan
        score(res, truth, source_identity)
        report.searches.append(res)
        log(f"N={report.n:,}: {kind} ef_search={ef} p50 {np.percentile(res.latencies_ms, 50):.2f} ms, "
            f"p99 {np.percentile(res.latencies_ms, 99):.2f} ms, recall@1 {res.recall1:.3f}, "
            f"recall@10 {res.recall10:.3f}")


def bench_size(conn, schema: Schema, n: int, args, ef_values: list[int]) -> SizeReport:
    data = Dataset(n, schema.dim, args.seed + n, args.queries)
    report = SizeReport(n, data.n_identities)
    log(f"N={n:,}: creating {TABLE} and loading {n:,} vectors")
    create_table(conn, schema)
    report.load_s, report.generate_s = load(conn, data)
    stored = conn.execute(f"SELECT vector FROM {TABLE} WHERE id = %s", (int(data.query_rows[0]) + 1,)).fetchone()[0]
    if not np.array_equal(np.asarray(stored.to_numpy() if hasattr(stored, "to_numpy") else stored, np.float32),
                          data._query_sources[0]):
        raise RuntimeError("the loaded vectors differ from the generated ones")
    log(f"N={n:,}: loaded in {report.load_s:.1f}s; building the HNSW index")

    report.index_s, report.analyze_s, report.notices = build_index(conn, schema, report, args, halfvec=False)
    log(f"N={n:,}: index built in {report.index_s:.1f}s; running {args.queries} queries per mode")
    report.total_size, report.table_size, report.index_size, report.index_bytes = sizes(conn)

    queries = data.queries()
    warmup = min(args.warmup, len(queries))
    exact_setup = "SET LOCAL enable_indexscan = off"
    truth = search(conn, "exact (index scans off)", exact_setup, queries, warmup)
    truth.plan = plan_of(conn, exact_setup, queries[0])
    if INDEX in truth.plan:
        raise RuntimeError(f"the exact search used the HNSW index:\n{truth.plan}")
    truth.recall1 = truth.recall10 = truth.identity1 = truth.same_identity = 1.0
    report.searches.append(truth)
    log(f"N={n:,}: exact p50 {np.percentile(truth.latencies_ms, 50):.2f} ms")
    source_identity = data.identity[data.query_rows]
    measure_hnsw(conn, schema, report, queries, truth, source_identity, ef_values, warmup, halfvec=False)
    if args.halfvec:
        conn.execute(f"DROP INDEX {INDEX}")
        log(f"N={n:,}: building the halfvec HNSW index")
        report.halfvec_index_s, _, notices = build_index(conn, schema, report, args, halfvec=True)
        report.notices += notices
        _, _, report.halfvec_index_size, report.halfvec_index_bytes = sizes(conn)
        measure_hnsw(conn, schema, report, queries, truth, source_identity, ef_values, warmup, halfvec=True)
    if not args.keep:
        conn.execute(f"DROP TABLE {TABLE}")
    return report


# --- output -----------------------------------------------------------------------


def server_info(conn) -> dict[str, str]:
    def one(sql: str) -> str:
        return str(conn.execute(sql).fetchone()[0])

    return {
        "server": one("SELECT version()"),
        "pgvector": one("SELECT extversion FROM pg_extension WHERE extname = 'vector'"),
        "shared_buffers": one("SHOW shared_buffers"),
        "work_mem": one("SHOW work_mem"),
        "max_parallel_workers_per_gather": one("SHOW max_parallel_workers_per_gather"),
        "jit": one("SHOW jit"),
    }


def print_header(info: dict[str, str], schema: Schema, args, ef_values: list[int], sizes: list[int]) -> None:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count()
    load1, load5, _ = os.getloadavg()
    print("# pgvector search benchmark\n")
    print(f"- PostgreSQL: {info['server']}")
    print(f"- pgvector extension: {info['pgvector']}")
    print(f"- CPUs: {os.cpu_count()} (usable by this process: {affinity}); load average at start "
          f"{load1:.2f} / {load5:.2f} (1 / 5 min) - other processes may share the CPUs")
    print(f"- server settings: shared_buffers={info['shared_buffers']}, work_mem={info['work_mem']}, "
          f"max_parallel_workers_per_gather={info['max_parallel_workers_per_gather']}, jit={info['jit']}")
    print(f"- index build: maintenance_work_mem={args.maintenance_work_mem} (per N below), "
          f"max_parallel_maintenance_workers={args.parallel_workers}")
    print(f"- scratch index: `{index_sql(schema)}`")
    print(f"- real index:    `{schema.real_indexdef or '(not in this database)'}`")
    print(f"- column: vector {schema.column_type}; data: N/5 identities, unit centre + noise "
          f"(|noise|={IDENTITY_SPREAD}), queries = stored vector + noise (|noise|={QUERY_SPREAD}), seed {args.seed}")
    print(f"- queries: {args.queries} per mode after {min(args.warmup, args.queries)} warm-up; top-{K} by `<=>`; "
          f"latency = SELECT round trip on one connection (Unix socket), not counting BEGIN/SET/COMMIT")
    platform = ", ".join(f"{platform_ef_search(n)} at {n:,}" for n in sizes)
    print(f"- ef_search values: {', '.join(map(str, ef_values))} (the platform's, by gallery size: {platform})")
    print(f"- sizes: {', '.join(f'{n:,}' for n in sizes)}\n")


def print_report(r: SizeReport) -> None:
    print(f"## N = {r.n:,} vectors ({r.n_identities:,} identities)\n")
    copy_s = max(r.load_s - r.generate_s, 1e-9)
    print(f"- insert (binary COPY): {r.load_s:.1f} s, {r.n / r.load_s:,.0f} rows/s including data generation; "
          f"{r.n / copy_s:,.0f} rows/s for the COPY alone ({copy_s:.1f} s)")
    print(f"- index build time: {r.index_s:.1f} s ({r.n / r.index_s:,.0f} vectors/s, "
          f"maintenance_work_mem={r.maintenance_work_mem}); ANALYZE {r.analyze_s:.1f} s")
    print(f"- sizes: pg_total_relation_size {r.total_size} (table incl. TOAST {r.table_size}, "
          f"HNSW index {r.index_size} = pg_relation_size, the rest is the primary key) "
          f"({r.index_bytes / r.n:,.0f} B/vector)")
    for skipped in r.not_measured:
        print(f"- {skipped}")
    if r.halfvec_index_s:
        print(f"- halfvec HNSW index (`vector::halfvec` expression, table unchanged): built in "
              f"{r.halfvec_index_s:.1f} s, {r.halfvec_index_size} ({r.halfvec_index_bytes / r.n:,.0f} B/vector); "
              f"its rows below are scored against the full-precision exact search")
    for notice in r.notices:
        print(f"- server said during the build: {notice}")
    print()
    print("| search | plan | p50 ms | p99 ms | mean ms | recall@1 | recall@10 | top-1 identity "
          "| same-identity recall |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in r.searches:
        lat = np.asarray(s.latencies_ms)
        p50, p99 = np.percentile(lat, [50, 99])
        print(f"| {s.label} | {summarise_plan(s.plan)} | {p50:.2f} | {p99:.2f} | {lat.mean():.2f} | "
              f"{s.recall1:.3f} | {s.recall10:.3f} | {s.identity1:.3f} | {s.same_identity:.3f} |")
    print(flush=True)


# --- main -------------------------------------------------------------------------


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def platform_ef_search(templates: int) -> int:
    """The ef_search identify uses for a gallery of this size (FACEREC_HNSW_EF_SEARCH or its rule)."""
    from recognition.selectors import hnsw_ef_search

    return hnsw_ef_search(templates)


def with_graph_params(schema: Schema, *, m: int | None, ef_construction: int | None) -> Schema:
    """The schema with the scratch index's m / ef_construction replaced where given."""
    params = dict(p.split(" = ", 1) for p in schema.with_params)
    if m is not None:
        params["m"] = str(m)
    if ef_construction is not None:
        params["ef_construction"] = str(ef_construction)
    return dataclasses.replace(schema, with_params=[f"{k} = {v}" for k, v in params.items()])


def maintenance_work_mem(setting: str, n: int) -> str:
    """'auto': enough for the whole HNSW graph (~2.7 kB per 512-d vector), at least 1GB."""
    if setting != "auto":
        return setting
    return f"{max(1, math.ceil(n * 3300 / 2**30))}GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="also 1,000,000 vectors (takes long)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries before each mode")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100])
    parser.add_argument("--maintenance-work-mem", default="auto",
                        help="for the index build; auto = max(1GB, graph size): 1GB up to ~300k, 4GB for 1M")
    parser.add_argument("--parallel-workers", type=int, default=1, help="max_parallel_maintenance_workers")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--halfvec", action="store_true",
                        help="after the vector index, also build and measure a half-precision (halfvec) HNSW index")
    parser.add_argument("--m", type=int, default=None,
                        help="HNSW m for the scratch index instead of the platform's (to measure a denser graph)")
    parser.add_argument("--ef-construction", type=int, default=None,
                        help="HNSW ef_construction for the scratch index instead of the platform's")
    parser.add_argument("--keep", action="store_true", help="keep the scratch table of the last size")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes + ([1_000_000] if args.full else [])))

    # SIGTERM unwinds like Ctrl-C, so the scratch table is dropped either way.
    signal.signal(signal.SIGTERM, _raise_interrupt)

    started = time.perf_counter()
    schema = with_graph_params(load_schema(), m=args.m, ef_construction=args.ef_construction)
    ef_values = sorted(set(args.ef_search) | {platform_ef_search(n) for n in sizes})
    conn = connect(schema)
    try:
        print_header(server_info(conn), schema, args, ef_values, sizes)
        for n in sizes:
            print_report(bench_size(conn, schema, n, args, ef_values))
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        with contextlib.suppress(Exception):
            conn.close()
        if not args.keep:
            drop_scratch(schema)
            log(f"dropped {TABLE}")
        log(f"wall time {time.perf_counter() - started:.0f}s")
    load1, load5, _ = os.getloadavg()
    print(f"Load average at end: {load1:.2f} / {load5:.2f} (1 / 5 min). "
          f"Wall time: {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
