"""`python app.py digest FILE`: digest a downloaded slow-log file, like pt-query-digest.

Prints one JSON object per digest (the fields of `GET /api/digests`) or pt's profile table.
Malformed entries are counted and reported on stderr; they never stop the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from analysis.digest import DigestAggregator, DigestStats
from analysis.fingerprint import fingerprint_and_id
from analysis.slowlog import iter_entries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="slow-log file ('-' for standard input)")
    parser.add_argument("--format", choices=("json", "table"), default="json",
                        help="json: one object per digest per line (default); table: "
                             "pt-query-digest's profile")
    parser.add_argument("--instance", default="file",
                        help="instance id written into each digest (default: file)")
    parser.add_argument("--limit", type=int, default=0,
                        help="only the N digests with the most total time (default: all)")
    parser.add_argument("--examples", type=int, default=5,
                        help="slowest example statements kept per digest (default: 5)")


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    # Slow logs hold whatever bytes clients sent; never die on one bad byte.
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        yield from handle


def digest_file(path: str, instance_id: str = "file", examples: int = 5) -> DigestAggregator:
    """Stream a slow-log file through the parser and the aggregator (memory ~ digests)."""
    aggregator = DigestAggregator(fingerprint_and_id, examples_per_digest=examples)
    return aggregator.add_all(instance_id, iter_entries(_lines(path)))


def render_profile(digests: Iterable[DigestStats], total_time: float) -> str:
    """pt-query-digest's `# Profile` table: rank, id, response time and share, calls, R/call."""
    header = (f"# {'Rank':>4} {'Query ID':<32} {'Response time':>18} {'Calls':>8} "
              f"{'R/Call':>8} {'p95':>8} {'Max':>8}  Item")
    rows = [header, "# " + "=" * (len(header) - 2)]
    for rank, digest in enumerate(digests, start=1):
        share = 100 * digest.qt_sum / total_time if total_time else 0.0
        p95 = digest.percentile(0.95) or 0.0
        item = " ".join(digest.fingerprint.split())[:60]
        rows.append(f"# {rank:>4} {digest.query_id:<32} {digest.qt_sum:>11.4f} {share:5.1f}% "
                    f"{digest.count:>8} {digest.query_time_avg:>8.4f} {p95:>8.4f} "
                    f"{digest.qt_max:>8.4f}  {item}")
    return "\n".join(rows)


def write_digests(aggregator: DigestAggregator, fmt: str, limit: int, out: TextIO) -> None:
    digests = aggregator.digests()
    total_time = sum(d.qt_sum for d in digests)
    if limit:
        digests = digests[:limit]
    if fmt == "table":
        out.write(render_profile(digests, total_time) + "\n")
        return
    for digest in digests:
        out.write(json.dumps(digest.to_dict(), ensure_ascii=False) + "\n")


def run(args: argparse.Namespace) -> int:
    if args.file != "-" and not Path(args.file).is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    try:
        aggregator = digest_file(args.file, args.instance, args.examples)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    write_digests(aggregator, args.format, args.limit, sys.stdout)
    summary: dict[str, Any] = aggregator.summary()
    print(f"{summary['entries']:,} entries, {summary['digests']:,} digests, "
          f"{summary['malformed']:,} malformed", file=sys.stderr)
    for sample in summary["error_samples"][:5]:
        print(f"  malformed at line {sample.get('line')}: {sample.get('reason')}",
              file=sys.stderr)
    return 0
