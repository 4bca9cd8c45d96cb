"""Statistics and event-log export at growing sizes of a simulated history: time, and peak memory.

For each size (``--sizes``, requests), a fresh database is migrated, the demo district loaded, and
``demo simulate`` (``service.analytics.simulation``) writes that many requests over ``--days`` days. Then, each in
a subprocess of its own so that its peak memory is its own:

* every statistic under ``/console/v1/stats/…`` is requested once through the console API (the Flask test
  client, as an administrator, grouped per service) over the last ``--range-days`` days; time each;
* the same again as a supervisor (``urban-supervisor``, grouped per department), so the department-scoped path
  (each request paired with the departments involved in it) is timed too; each statistic is the best of
  ``--repeat`` runs, and its growth from the smallest size to the largest is printed, per statistic and per path
  (linear scaling grows about as the events do);
* the event log is exported through ``/console/v1/stats/event-log`` in each ``--formats`` and read to the end
  as a client would, chunk by chunk; time, bytes, and the peak resident memory of the process (``ru_maxrss``)
  with its baseline before the export began; and once more as CSV by the supervisor (their subtree only).

The export streams, so its peak memory must not grow with the log: the output gives, per format, the peak of
the largest size over the peak of the smallest (1.0 is perfectly flat) next to the growth of the log itself.
The last line printed is one JSON object of the figures.

    .venv/bin/python bench/analytics.py                                  # quick: 1,000 and 10,000 requests
    .venv/bin/python bench/analytics.py --sizes 10000,1000000            # the full run (about an hour on 2 cores)
    CIVICDESK_ENV=testing scripts/with-postgres.sh .venv/bin/python bench/analytics.py --database postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scratch import postgresql_database, sqlite_database  # noqa: E402

UNTIL = date(2026, 10, 30)
PASSWORD = "bench-password-123"  # noqa: S105 (demo staff of a scratch database)
POSTGRES_URL_VARIABLE = "CIVICDESK_TEST_DATABASE_URL"
SUPERVISOR = "urban-supervisor"
STATISTICS = ("backlog", "throughput", "cycle-times", "steps", "bottlenecks", "overdue", "rework", "ratings")


def _settings(url: str, workdir: str) -> dict[str, Any]:
    # Cheap password hashes: hashing is not what is measured.
    return {"DATABASE_URL": url, "UPLOAD_DIR": workdir, "REDIS_URL": "", "WECHAT_BASE_URL": "http://127.0.0.1:9/",
            "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "DEMO_PASSWORD": PASSWORD,
            "LOG_LEVEL": "WARNING"}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- workers (each run in a subprocess of its own) ---------------------------------------------------------


def worker_setup(url: str, workdir: str, requests: int, days: int, seed: int) -> dict[str, Any]:
    from service import create_app, migrations
    from service.analytics.simulation import simulate
    from service.core.db import db
    from service.demo import load_demo

    app = create_app(_settings(url, workdir), "testing")
    migrations.upgrade(app)
    with app.app_context():
        load_demo(PASSWORD)
        db.session.commit()
        started = time.perf_counter()
        report = simulate(requests, days, seed, until=UNTIL, batch=5000)
        seconds = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    return {"simulate_seconds": round(seconds, 2), "requests": report.requests, "events": report.events,
            "ratings": report.ratings, "open_at_end": report.open_at_end, "late": report.late,
            "simulate_rss_mib": round(_rss_mib(), 1)}


def _client(url: str, workdir: str, username: str = "admin") -> tuple[Any, dict[str, str]]:
    from service import create_app

    app = create_app(_settings(url, workdir), "testing")
    client = app.test_client()
    response = client.post("/console/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return client, {"Authorization": f"Bearer {response.get_json()['token']}"}


def worker_stats(url: str, workdir: str, range_days: int, repeat: int = 1) -> dict[str, Any]:
    client, headers = _client(url, workdir)
    query = {"from": (UNTIL - timedelta(days=range_days - 1)).isoformat(), "to": UNTIL.isoformat()}
    baseline = _rss_mib()
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}

    def timed(key: str, name: str, auth: dict[str, str], query_string: dict[str, str]) -> None:
        # the best of ``repeat`` runs: the first pays for warming caches, the others show the query itself
        best = float("inf")
        for _ in range(max(repeat, 1)):
            started = time.perf_counter()
            response = client.get(f"/console/v1/stats/{name}", headers=auth, query_string=query_string)
            best = min(best, time.perf_counter() - started)
            assert response.status_code == 200, response.get_data(as_text=True)
        seconds[key] = round(best, 3)
        rows[key] = len(response.get_json()["items"])

    for name in STATISTICS:
        timed(name, name, headers, query)
    # the department-scoped path: a supervisor's subtree, one row per department
    _, supervisor = _client(url, workdir, SUPERVISOR)
    for name in STATISTICS:
        timed(f"{SUPERVISOR}/{name}", name, supervisor, {**query, "group": "department"})
    return {"seconds": seconds, "total_seconds": round(sum(seconds.values()), 2), "rows": rows,
            "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(_rss_mib(), 1)}


def worker_export(url: str, workdir: str, fmt: str, username: str = "admin") -> dict[str, Any]:
    client, headers = _client(url, workdir, username)
    baseline = _rss_mib()
    started = time.perf_counter()
    response = client.get("/console/v1/stats/event-log", headers=headers, query_string={"format": fmt},
                          buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    size = chunks = 0
    for chunk in response.response:
        size += len(chunk)
        chunks += 1
    response.close()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "mib": round(size / 2**20, 1), "chunks": chunks,
            "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(_rss_mib(), 1)}


def run_worker(*args: str) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True,  # noqa: S603
                               check=False, env={**os.environ, "CIVICDESK_ENV": "testing"})
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"worker {args[0]} failed")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --- databases ------------------------------------------------------------------------------------------------


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with sqlite_database() as url:
            yield url
        return
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        raise SystemExit(f"set {POSTGRES_URL_VARIABLE} (or run through scripts/with-postgres.sh)")
    with postgresql_database(server, "civicdesk_analytics") as url:
        yield url


# --- the run --------------------------------------------------------------------------------------------------


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    with scratch_database(args.database) as url, tempfile.TemporaryDirectory() as workdir:
        print(f"\n== {size:,} requests over {args.days} days ({args.database})", flush=True)
        setup = run_worker("setup", url, workdir, str(size), str(args.days), str(args.seed))
        print(f"simulate: {setup['simulate_seconds']:.1f} s ({setup['requests'] / setup['simulate_seconds']:,.0f} "
              f"requests/s), {setup['events']:,} events, {setup['ratings']:,} ratings, "
              f"{setup['open_at_end']:,} open, {setup['late']:,} late", flush=True)
        stats = run_worker("stats", url, workdir, str(args.range_days), str(args.repeat))
        for name, seconds in stats["seconds"].items():
            print(f"  stats/{name:<29} {seconds:8.3f} s  {stats['rows'][name]:>5} rows", flush=True)
        print(f"  stats total {stats['total_seconds']:.2f} s, peak RSS {stats['peak_rss_mib']:.0f} MiB "
              f"(baseline {stats['baseline_rss_mib']:.0f})", flush=True)
        exports = {}
        for fmt in args.formats:
            exports[fmt] = run_worker("export", url, workdir, fmt)
            e = exports[fmt]
            print(f"  export {fmt:<5} {e['seconds']:8.2f} s  {e['mib']:8.1f} MiB  "
                  f"{setup['events'] / max(e['seconds'], 1e-9):,.0f} events/s  peak RSS {e['peak_rss_mib']:.0f} MiB "
                  f"(baseline {e['baseline_rss_mib']:.0f})", flush=True)
        scoped = run_worker("export", url, workdir, "csv", SUPERVISOR)
        print(f"  export csv as {SUPERVISOR} {scoped['seconds']:8.2f} s  {scoped['mib']:8.1f} MiB  "
              f"peak RSS {scoped['peak_rss_mib']:.0f} MiB", flush=True)
    return {"setup": setup, "stats": stats, "export": exports, "scoped_export": scoped}


def _print_stats_growth(sizes: list[int], results: dict[int, dict[str, Any]]) -> dict[str, float]:
    """Per statistic, its time at the largest size over its time at the smallest, next to the growth of the
    data: linear scaling grows about as the data does, a quadratic plan about as its square."""
    small, large = results[sizes[0]], results[sizes[-1]]
    data = large["setup"]["events"] / max(small["setup"]["events"], 1)
    print(f"\nstatistics, {sizes[-1]:,} against {sizes[0]:,} requests (the events grew {data:,.1f}×):")
    growth: dict[str, float] = {}
    for key, before in small["stats"]["seconds"].items():
        after = large["stats"]["seconds"][key]
        growth[key] = round(after / max(before, 1e-3), 2)
        print(f"  {key:<36} {before:8.3f} → {after:8.3f} s  ×{growth[key]:.1f}")
    for path, keys in (("administrator", list(STATISTICS)), (SUPERVISOR, [f"{SUPERVISOR}/{n}" for n in STATISTICS])):
        before = sum(small["stats"]["seconds"][k] for k in keys)
        after = sum(large["stats"]["seconds"][k] for k in keys)
        growth[f"total:{path}"] = round(after / max(before, 1e-3), 2)
        print(f"  all statistics as {path:<18} {before:8.3f} → {after:8.3f} s  ×{growth[f'total:{path}']:.1f}")
    return growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="Comma-separated numbers of requests.")
    parser.add_argument("--days", type=int, default=365, help="Days the simulated requests arrive over.")
    parser.add_argument("--range-days", type=int, default=90, help="Days the statistics cover (up to the end).")
    parser.add_argument("--formats", default="xes,ocel,csv")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each statistic; the fastest is reported.")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "setup":
            result = worker_setup(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]))
        elif kind == "stats":
            result = worker_stats(rest[0], rest[1], int(rest[2]), int(rest[3]))
        else:
            result = worker_export(rest[0], rest[1], rest[2], *rest[3:4])
        print(json.dumps(result))
        return

    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.formats = [f for f in args.formats.split(",") if f]
    results = {size: measure(size, args) for size in sizes}
    small, large = results[sizes[0]], results[sizes[-1]]
    growth = large["setup"]["events"] / max(small["setup"]["events"], 1)
    stats_growth = _print_stats_growth(sizes, results)
    print(f"\nexport memory, {sizes[-1]:,} against {sizes[0]:,} requests (the log grew {growth:,.1f}×):")
    ratios = {}
    for fmt in args.formats:
        ratios[fmt] = round(large["export"][fmt]["peak_rss_mib"] / small["export"][fmt]["peak_rss_mib"], 3)
        print(f"  {fmt:<5} peak RSS {small['export'][fmt]['peak_rss_mib']:.0f} → "
              f"{large['export'][fmt]['peak_rss_mib']:.0f} MiB: ratio {ratios[fmt]:.3f}")
    print(json.dumps({"benchmark": "analytics", "database": args.database, "days": args.days,
                      "range_days": args.range_days, "log_growth": round(growth, 2),
                      "export_memory_ratio": ratios, "stats_growth": stats_growth,
                      "results": {str(size): {
                          "requests": r["setup"]["requests"], "events": r["setup"]["events"],
                          "simulate_seconds": r["setup"]["simulate_seconds"],
                          "stats_seconds": r["stats"]["seconds"], "stats_peak_rss_mib": r["stats"]["peak_rss_mib"],
                          "export": {f: {"seconds": e["seconds"], "mib": e["mib"], "peak_rss_mib": e["peak_rss_mib"]}
                                     for f, e in r["export"].items()},
                          "scoped_export_csv": {k: r["scoped_export"][k] for k in ("seconds", "mib", "peak_rss_mib")}}
                          for size, r in results.items()}}))


if __name__ == "__main__":
    main()
