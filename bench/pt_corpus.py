"""Does our slow-log parser read pt-query-digest's own test corpus as pt does?

percona-toolkit keeps the slow logs its parser is tested on in ``t/lib/samples/slowlogs/``
(72 files, 2.5 MB, GPL: not copied into this repository).  Extract them from a checkout::

    git clone --depth 1 https://github.com/percona/percona-toolkit /tmp/pt
    .venv/bin/python bench/pt_corpus.py /tmp/pt/t/lib/samples/slowlogs

or, from a bare mirror, file by file::

    mkdir -p /tmp/ptcorpus && cd MIRROR && for f in $(git ls-tree --name-only HEAD \\
        t/lib/samples/slowlogs/); do git show HEAD:$f > /tmp/ptcorpus/$(basename $f); done

For every file of DIR it runs ``pt-query-digest --output json --limit 100% FILE`` and our
digest (``commands.digest.digest_file``, the code ``app.py digest`` runs) and prints, per
file: entries pt / ours (and our malformed ones), total Query_time pt / ours, query classes
pt / ours, and whether entries and total time agree; then the totals.  ``--jobs 2`` makes
our digest cut files into byte ranges as the command does on big files, ``--events``
compares the disagreeing files event by event with pt (``pt_events_of``) and prints the
first difference, ``--general`` reads with the line-by-line parser instead of the fast
chunked one.

Exit status 1 if a file disagrees that is not listed in ``PT_IS_WRONG`` (files where pt
itself reads the log wrong; the reason is given there and printed).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.digest import DigestAggregator  # noqa: E402
from analysis.fingerprint import fingerprint_and_id  # noqa: E402
from analysis.slowlog import SlowLogEntry, iter_entries  # noqa: E402
from commands.digest import digest_file  # noqa: E402

# Files where pt-query-digest 3.x itself is wrong, and why.  We may differ on them.
PT_IS_WRONG: dict[str, str] = {
    "slow022.txt": (
        "its 6 `# Time:` lines hold `margdl 11:48:27`, not a time; pt drops the value "
        "silently and keeps the entries, we count each entry as malformed (as for any header "
        "value that does not parse), so all 6 are counted, none is lost"),
}


def pt_digest(pt: str, path: Path) -> tuple[int, float, int]:
    """pt's (entries, total Query_time, classes) of a file."""
    out = subprocess.run([pt, "--output", "json", "--limit", "100%", str(path)],
                         capture_output=True, timeout=600).stdout
    text = out.decode("utf-8", "replace").strip()
    if not text:
        return 0, 0.0, 0
    report = json.loads(text)
    glob = report.get("global") or {}
    qt = (glob.get("metrics") or {}).get("Query_time") or {}
    return (int(glob.get("query_count") or 0), float(qt.get("sum") or 0.0),
            int(glob.get("unique_query_count") or 0))


def our_digest(path: Path, jobs: int, general: bool) -> tuple[int, float, int, int]:
    """Our (entries, total Query_time, classes, malformed) of a file."""
    if general:
        agg = DigestAggregator(fingerprint_and_id)
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            agg.add_all("file", iter_entries(fh))
    else:
        agg = digest_file(str(path), jobs=jobs)
    digests = agg.digests()
    return (agg.entries, math.fsum(d.qt_sum for d in digests), len(digests), agg.malformed)


def first_difference(path: Path) -> str:
    """The first event where pt and our line-by-line parser differ, as one line."""
    from tests.slowlog_fixtures import pt_events_of

    pt = pt_events_of(path)
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        ours = list(iter_entries(fh))
    for n, (event, entry) in enumerate(zip(pt, ours, strict=False)):
        if not isinstance(entry, SlowLogEntry):
            return (f"#{n}: ours malformed ({entry.reason}, line {entry.line}); "
                    f"pt {event['sql'][:60]!r}")
        if entry.sql != event["sql"] or entry.query_time != event["query_time"]:
            return (f"#{n}: pt {event['query_time']} {event['sql'][:60]!r}; "
                    f"ours {entry.query_time} {entry.sql[:60]!r}")
    return f"events: pt {len(pt)}, ours {len(ours)} (equal up to the shorter)"


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="a directory of slow logs")
    parser.add_argument("--pt", default=shutil.which("pt-query-digest") or "pt-query-digest")
    parser.add_argument("--jobs", type=int, default=1, help="our digest's processes (1)")
    parser.add_argument("--events", action="store_true",
                        help="for each disagreeing file, print the first differing event")
    parser.add_argument("--general", action="store_true",
                        help="read with the line-by-line parser (iter_entries)")
    args = parser.parse_args(argv)

    files = sorted(p for p in args.dir.iterdir() if p.is_file())
    print(f"{'file':<28} {'entries pt/ours':>16} {'malf':>5} {'Query_time pt / ours':>27} "
          f"{'classes pt/ours':>16}  agree")
    totals = [0, 0, 0.0, 0.0, 0, 0, 0]
    agree = unexplained = 0
    for path in files:
        pt_n, pt_qt, pt_classes = pt_digest(args.pt, path)
        n, qt, classes, malformed = our_digest(path, args.jobs, args.general)
        ok = pt_n == n and _same(pt_qt, qt)
        agree += ok
        note = ""
        if not ok:
            if path.name in PT_IS_WRONG:
                note = "  (pt wrong: " + PT_IS_WRONG[path.name] + ")"
            else:
                unexplained += 1
        print(f"{path.name:<28} {pt_n:>7} / {n:<7} {malformed:>5} {pt_qt:>13.6f} / "
              f"{qt:<13.6f} {pt_classes:>7} / {classes:<7}  {'yes' if ok else 'NO'}{note}",
              flush=True)
        if not ok and args.events:
            print(f"    {first_difference(path)}", flush=True)
        for k, v in enumerate((pt_n, n, pt_qt, qt, pt_classes, classes, malformed)):
            totals[k] += v
    print(f"{'total':<28} {totals[0]:>7} / {totals[1]:<7} {totals[6]:>5} {totals[2]:>13.6f} / "
          f"{totals[3]:<13.6f} {totals[4]:>7} / {totals[5]:<7}")
    print(f"{agree} of {len(files)} files agree on entries and total Query_time; "
          f"{unexplained} disagree without a listed reason")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
