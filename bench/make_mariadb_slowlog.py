"""Write a slow log with a real MariaDB (the tests' server) for benchmarks on server output.

`long_query_time=0` and `log_slow_verbosity=query_plan,explain`, the fixture's varied
workload, then N statements of six shapes (point and IN-list selects, a join with GROUP BY,
counts, updates, ORDER BY ... LIMIT). 80,000 statements give about 49 MB in ~20 s.

    .venv/bin/python bench/make_mariadb_slowlog.py --statements 80000 --out /tmp/slow.log
    .venv/bin/python bench/digest_vs_pt.py --log /tmp/slow.log
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mariadb_server import start_mariadb  # noqa: E402
from tests.slowlog_fixtures import _workload  # noqa: E402


def _statements(rnd: random.Random) -> list:
    return [
        lambda: f"SELECT * FROM customers WHERE id = {rnd.randint(0, 80)}",
        lambda: "SELECT name FROM customers WHERE id IN (" + ",".join(
            str(rnd.randint(0, 99)) for _ in range(rnd.randint(1, 30))) + ")",
        lambda: ("SELECT c.name, SUM(o.total) FROM customers c JOIN orders o ON "
                 f"o.customer_id = c.id WHERE o.status = '{rnd.choice(['paid', 'new'])}' "
                 "GROUP BY c.name"),
        lambda: f"SELECT COUNT(*) FROM orders WHERE total > {rnd.uniform(-10, 400):.2f}",
        lambda: f"UPDATE orders SET status = 'paid' WHERE id = {rnd.randint(1, 100)}",
        lambda: (f"SELECT * FROM orders WHERE created > NOW() - INTERVAL {rnd.randint(1, 30)}"
                 f" DAY ORDER BY total DESC LIMIT {rnd.randint(1, 20)}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=80_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mariadb-bench-"))
    server = start_mariadb(base, slow_query_log="ON", long_query_time=0,
                           slow_query_log_file=str(args.out.resolve()),
                           log_slow_verbosity="query_plan,explain")
    try:
        _workload(server)
        conn = server.connect()
        conn.select_db("shop")
        cursor = conn.cursor()
        rnd = random.Random(5)
        shapes = _statements(rnd)
        for n in range(args.statements):
            cursor.execute(rnd.choice(shapes)())
            cursor.fetchall()
            if n % 100 == 0:
                conn.commit()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
