"""How long the fleet view and the month-over-month comparison take at scale.

Fills a fresh store with two months of digests (default 100,000 per month over 20 instances,
each with a quantile sketch, an hourly series and an example, the shape a collection stores),
then times, through the real HTTP API (Flask test client):

* building the fleet rows of a month (done once per collection run, or at the first read),
* `GET /api/digests?group=fleet&month=` (first page, sorted by total time) and a page deep
  in the list,
* `GET /api/compare?month=` for the fleet and for one instance,
* the Overview's change badges (first time and remembered) and its instance/schema filter.

    .venv/bin/python bench/fleet_compare.py [--digests 100000] [--instances 20]
        [--database-url sqlite:///bench/out/fleet.db | mongodb://...]

The statements are drawn so that instances share most of them (a fleet row merges ~10
instances) and the second month differs (some statements vanish, some appear, some slow
down), as the Compare page expects of real months.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.digest import QuantileSketch, sketch_to_dict  # noqa: E402
from analysis.overview import OverviewFilter, filter_statements  # noqa: E402
from app import create_app  # noqa: E402
from jobs.compare import change_counts  # noqa: E402
from jobs.fleet import ensure_fleet  # noqa: E402
from settings import Settings  # noqa: E402


def _digest(rng: random.Random, statement: int, month: str, slower: float) -> dict:
    calls = rng.randint(1, 400)
    sketch = QuantileSketch()
    base = 0.05 * (1 + statement % 97) * slower
    for _ in range(min(calls, 60)):
        sketch.add(base * rng.lognormvariate(0, 0.6))
    total = base * calls
    qid = f"{statement:032x}"
    return {
        "query_id": qid, "fingerprint": f"select c{statement % 50} from t{statement} "
                                         f"where id = ? and state = ?",
        "count": calls,
        "query_time": {"sum": total, "min": base / 3, "max": base * 6, "avg": total / calls,
                       "p50": sketch.quantile(0.5), "p95": sketch.quantile(0.95),
                       "p99": sketch.quantile(0.99)},
        "lock_time": {"sum": calls * 0.0002, "min": 0.0001, "max": 0.001, "avg": 0.0002},
        "rows_sent": {"sum": calls, "max": 1, "avg": 1.0},
        "rows_examined": {"sum": calls * 100 * slower, "max": 1000, "avg": 100 * slower},
        "first_seen": f"{month}-01T00:00:00Z", "last_seen": f"{month}-28T23:00:00Z",
        "users": {"app": calls}, "hosts": {"10.0.0.5": calls}, "databases": {"shop": calls},
        "examples": [{"sql": f"SELECT c FROM t{statement} WHERE id = 42 AND state = 'new'",
                      "db": "shop", "time": f"{month}-03T10:00:00Z", "query_time": base,
                      "truncated": False}],
        "hourly": {f"{month}-{d:02d}T{h:02d}": {"count": 1, "query_time": base}
                   for d in range(1, 29) for h in (3, 9, 15, 21)},
        "sketch": sketch_to_dict(sketch),
    }


def fill(store, digests: int, instances: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    per_instance = digests // instances
    statements = int(per_instance * 2)  # ~ half the statement pool runs on each instance
    for month, shift in (("2026-09", 0), ("2026-10", per_instance // 10)):
        started = time.monotonic()
        for n in range(instances):
            picked = rng.sample(range(shift, statements + shift), per_instance)
            docs = [_digest(rng, s, month, 3.0 if month == "2026-10" and s % 40 == 0 else 1.0)
                    for s in picked]
            store.digests.replace_period(f"db{n:02d}", month, docs)
        print(f"stored {per_instance * instances:,} digests of {month} in "
              f"{time.monotonic() - started:.1f} s")


def _timed(client, url: str, repeat: int = 3) -> tuple[float, int, dict]:
    best, size, body = float("inf"), 0, {}
    for _ in range(repeat):
        started = time.monotonic()
        answer = client.get(url)
        best = min(best, time.monotonic() - started)
        assert answer.status_code == 200, answer.get_json()
        size, body = len(answer.data), answer.get_json()
    return best, size, body


def _overview(store) -> None:
    """What the Overview does beyond the API: its change badges (cold, then remembered) and
    narrowing the month to some instances (every fleet row read and re-totalled)."""
    settings = Settings()
    for label in ("changes, first time", "changes, remembered"):
        started = time.monotonic()
        counts = change_counts(store, settings, "2026-10")
        print(f"{label:26} {(time.monotonic() - started) * 1000:8.0f} ms  "
              f"· regressed {counts['regressed']:,}")
    for label, flt in (("filter, one instance", OverviewFilter(frozenset({"db00"}))),
                       ("filter, schema", OverviewFilter(schema="shop"))):
        started = time.monotonic()
        kept = filter_statements(store.digests.fleet_statements("2026-10"), flt)
        print(f"{label:26} {(time.monotonic() - started) * 1000:8.0f} ms  "
              f"· {len(kept):,} statements")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digests", type=int, default=100_000, help="per month")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url
    if url is None:
        out = ROOT / "bench" / "out"
        shutil.rmtree(out / "fleet", ignore_errors=True)
        url = f"sqlite:///{out / 'fleet' / 'fleet.db'}"
    app = create_app(Settings(database_url=url, scheduler_enabled=False))
    store = app.server.extensions["slowquery"].store
    fill(store, args.digests, args.instances)

    for month in ("2026-09", "2026-10"):
        started = time.monotonic()
        rows = ensure_fleet(store, month)
        print(f"fleet rows of {month}: {rows:,} statements built in "
              f"{time.monotonic() - started:.2f} s")
    client = app.server.test_client()
    for label, path in (
        ("fleet, first page", "/api/digests?group=fleet&month=2026-10&limit=100"),
        ("fleet, page 100", "/api/digests?group=fleet&month=2026-10&limit=100&offset=9900"),
        ("one instance, first page", "/api/digests?instance_id=db00&month=2026-10&limit=100"),
        ("compare, fleet", "/api/compare?month=2026-10"),
        ("compare, one instance", "/api/compare?month=2026-10&instance_id=db00"),
    ):
        seconds, size, body = _timed(client, path)
        extra = ""
        if "counts" in body:
            extra = " · " + ", ".join(f"{k} {v:,}" for k, v in body["counts"].items())
        elif "total" in body:
            extra = f" · {body['total']:,} rows"
        print(f"{label:26} {seconds * 1000:8.0f} ms  {size / 1024:8.0f} kB{extra}")
    _overview(store)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB ({store.kind})")


if __name__ == "__main__":
    main()
