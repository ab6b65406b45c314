"""How fast the Digests grid's store queries are with 100,000 digests in one period.

The grid asks the store for one block at a time (sort, filter, offset, limit) plus a count;
this measures exactly those calls on the embedded SQLite store, and on MongoDB when a URL is
given (`--mongo mongodb://host:27017/bench`). Run from the repository root:

    .venv/bin/python bench/digest_store_page.py [--digests 100000] [--mongo URL]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import open_store  # noqa: E402


def _digest(rng: random.Random, n: int) -> dict:
    total = rng.lognormvariate(2, 2)
    count = rng.randint(1, 5000)
    table = rng.choice(["orders", "customers", "invoices", "payments", "products"])
    return {"query_id": f"{n:032X}", "fingerprint": f"select * from {table} where c{n} = ?",
            "count": count,
            "query_time": {"sum": total, "avg": total / count, "max": total, "p95": total},
            "lock_time": {"sum": 0.0}, "rows_examined": {"sum": count * 10},
            "rows_sent": {"sum": count}, "last_seen": "2026-10-31T00:00:00Z"}


def _time(call, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return median(runs) * 1000


def measure(url: str, digests: int) -> None:
    store = open_store(url)
    rng = random.Random(1)
    docs = [_digest(rng, n) for n in range(digests)]
    start = time.perf_counter()
    store.digests.replace_period("db-1", "2026-10", docs)
    print(f"{store.kind}: stored {digests:,} digests in {time.perf_counter() - start:.1f} s")
    page = store.digests.page
    cases = {
        "first block, by total time": lambda: page(instance_id="db-1", period="2026-10"),
        "block at offset 50,000": lambda: page(instance_id="db-1", period="2026-10",
                                               offset=50_000),
        "sorted by calls": lambda: page(instance_id="db-1", period="2026-10", sort="count"),
        "fingerprint contains 'invoices'": lambda: page(instance_id="db-1", period="2026-10",
                                                        text="invoices"),
        "period totals": lambda: store.digests.totals("db-1", "2026-10"),
    }
    for name, call in cases.items():
        print(f"  {name:<34} {_time(call):8.1f} ms (median of 5)")
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=100_000)
    parser.add_argument("--mongo", help="also measure a MongoDB store at this URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/bench.db", args.digests)
    if args.mongo:
        measure(args.mongo, args.digests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
