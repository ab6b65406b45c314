"""`python app.py digest FILE`: digest a downloaded slow-log file, like pt-query-digest.

Prints one JSON object per digest (the fields of `GET /api/digests`) or pt's profile table.
Malformed entries are counted and reported on stderr; they never stop the run.

A big file is read by several processes (`--jobs`; by default one per CPU, at most one per
`MIN_BYTES_PER_JOB`): it is cut into byte ranges at entry starts, this process digests the
first range while a fresh interpreter per other range digests that one (a plain subprocess,
not multiprocessing or a fork: nothing of this process is inherited or counted twice, and
it starts in ~50 ms), and the aggregates are merged in file order, which gives what one pass
gives (see `DigestAggregator.merge`). `use db;` is written only when the database changes
and `# Time:` may be left out when it repeats, so a worker first finds the last entries
before its range that set them (`state_at`) and starts from their values, as one pass would.
Ranges are read in blocks of text and parsed by `iter_entries_text`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

if TYPE_CHECKING:  # imported where used: workers are spawned first (see digest_file)
    from analysis.digest import DigestAggregator, DigestStats
    from analysis.slowlog import SlowLogStream

ROOT = Path(__file__).resolve().parent.parent
MIN_BYTES_PER_JOB = 8 << 20  # below this a worker process costs more than it saves
_BLOCK = 1 << 20
_LOOKBACK = 64 << 10  # how far back to look for the line before a "# User@Host:" line
_UNSET: Any = object()
# This process starts on the first range soon, each worker later (a fresh interpreter
# and its imports, ~70 ms, of which this process spends ~35 importing the same modules):
# in that time this process reads about 3 MiB (35-60 MB/s per process on a 2-CPU VM), so
# the first range is that much longer and the processes finish together (best of 6 runs of
# the whole command, 1 to 4 MiB: 3 was the fastest on the MariaDB and generator logs).
HEAD_START = 3 << 20
# The verbatim-statement cache of the one aggregator of each process (analysis/digest.py):
# statements repeat far apart -- half the entries of the generator's 100 MB log repeat an
# earlier text, a quarter among the last 4,096 distinct texts (the default), a third among
# the last 16,384. Since a shape key costs 1.6 us, a larger cache gains little (65,536: 2%
# faster, 10 MB more per process). At most 2 Mi characters.
FINGERPRINT_CACHE = 16384
FINGERPRINT_CACHE_CHARS = 2 << 20


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
    parser.add_argument("--jobs", type=int, default=0,
                        help="processes reading the file (default: one per CPU, at most one "
                             f"per {MIN_BYTES_PER_JOB >> 20} MiB; 1: no worker processes)")


# ---- byte ranges ------------------------------------------------------------------------------
def _read(raw: BinaryIO, start: int, end: int) -> bytes:
    raw.seek(start)
    return raw.read(max(0, end - start))


def _rfind(raw: BinaryIO, needles: tuple[bytes, ...], before: int, *,
           line_start: bool = False, anywhere: tuple[bytes, ...] = ()) -> int:
    """The last position < ``before`` where one of ``needles`` starts (with
    ``line_start``, at the start of a line: 0, or after ``\\n`` or ``\\r``) or one of
    ``anywhere`` does; -1 if none.  Reads back a block at a time (4 KiB, doubling up to
    _BLOCK), so memory stays small however far back it is."""
    longest = max(len(n) for n in needles + anywhere)
    hi = before
    step = 4096
    while hi > 0:
        lo = max(0, hi - step)
        step = min(step * 2, _BLOCK)
        pad = 1 if lo else 0  # one byte before the block, to see what precedes a match
        data = _read(raw, lo - pad, hi + longest)
        best = -1
        for needle in needles + anywhere:
            p = data.rfind(needle, pad, pad + hi - lo + len(needle) - 1)
            while p > best:
                if (not line_start or needle in anywhere or p == 0
                        or data[p - 1] in b"\r\n"):
                    best = p
                    break
                p = data.rfind(needle, pad, p + len(needle) - 1)
        if best >= 0:
            return lo - pad + best
        hi = lo
    return -1


def _prev_line(raw: BinaryIO, pos: int) -> bytes | None:
    """The line ending just before ``pos`` (a line start), without its end; b"" at the
    start of the file; None when it starts more than _LOOKBACK bytes back."""
    if pos == 0:
        return b""
    lo = max(0, pos - _LOOKBACK)
    data = _read(raw, lo, pos)
    end = len(data) - 1  # data[end] ends the previous line
    if end > 0 and data[end] == 0x0A and data[end - 1] == 0x0D:
        end -= 1
    p = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
    if p < 0 and lo > 0:
        return None
    return data[p + 1:end]


def _is_entry_start(raw: BinaryIO, pos: int) -> bool:
    """Does the parser start an entry with the line at ``pos`` (a line start)?  At a
    ``# Time:`` line always; at a ``# User@Host:`` line unless it continues the entry a
    ``# Time:`` line started -- counted as "no" too when a server banner (which the
    parser skips) or a line too long to look at comes before it: a cut point can always
    move on to the next entry."""
    head = _read(raw, pos, pos + 12)
    if head.startswith(b"# Time:"):
        return True
    if not head.startswith(b"# User@Host:"):
        return False
    prev = _prev_line(raw, pos)
    return prev is not None and not prev.startswith((b"# Time:", b"Time ")) \
        and prev[:9].lower() != b"tcp port:" and not prev.rstrip().endswith(b"started with:")


def _next_entry_start(raw: BinaryIO, pos: int, limit: int) -> int:
    """The first entry start in [pos, limit) just after a ``\\n``, or ``limit``."""
    lo = max(pos - 1, 0)
    step = 4096  # doubling up to _BLOCK: the next entry is usually near
    while lo < limit:
        data = _read(raw, lo, min(limit, lo + step) + 2)
        i = data.find(b"\n#")
        while i >= 0 and lo + i + 1 < limit:
            at = lo + i + 1
            if at >= pos and _is_entry_start(raw, at):
                return at
            i = data.find(b"\n#", i + 1)
        lo += step
        step = min(step * 2, _BLOCK)
    return limit


def _entry_around(raw: BinaryIO, pos: int, limit: int) -> tuple[int, int]:
    """(start, end): whole entries holding the line at ``pos``; ``end`` <= ``limit``, which
    must be an entry start (or the end of the file)."""
    start = pos + 1
    while start > 0:
        start = _rfind(raw, (b"# Time:", b"# User@Host:"), start, line_start=True)
        if start > 0 and _read(raw, start - 1, start) == b"\n" and _is_entry_start(raw, start):
            break
    return max(start, 0), _next_entry_start(raw, pos + 1, limit)


def _replay(raw: BinaryIO, start: int, end: int, stream: SlowLogStream) -> None:
    from analysis.slowlog import iter_entries

    text = io.TextIOWrapper(io.BytesIO(_read(raw, start, end)), encoding="utf-8",
                            errors="replace", newline="")
    for _ in iter_entries(text, stream):
        pass


def state_at(raw: BinaryIO, offset: int) -> tuple[str | None, datetime | None]:
    """One pass's current database and last ``# Time:`` at ``offset`` (an entry start),
    found by replaying only the last entries before it that can have set them: those with a
    ``use ...`` line or a ``Schema:`` field, and with a ``# Time:`` line."""
    from analysis.slowlog import SlowLogStream

    db: str | None = None
    before = offset
    while True:
        # the last `use` line, or MariaDB `Schema:` field (anywhere in a header line)
        pos = _rfind(raw, (b"use ",), before, line_start=True, anywhere=(b"Schema:",))
        if pos < 0:
            break
        start, end = _entry_around(raw, pos, offset)
        stream = SlowLogStream(_UNSET)
        _replay(raw, start, end, stream)
        if stream.current_db is not _UNSET:
            db = stream.current_db
            break
        before = min(start, pos)  # e.g. a `use` inside a statement: look further back
    last_time: datetime | None = None
    time_at = _rfind(raw, (b"# Time:",), offset, line_start=True)
    while time_at >= 0:
        start, end = _entry_around(raw, time_at, offset)
        stream = SlowLogStream()
        _replay(raw, start, end, stream)
        if stream.last_time is not None:
            last_time = stream.last_time
            break
        time_at = _rfind(raw, (b"# Time:",), min(start, time_at), line_start=True)
    return db, last_time


def split_ranges(path: str, parts: int, head_start: int | None = None
                 ) -> list[tuple[int, int]]:
    """Cut a file into at most ``parts`` byte ranges of about equal size at entry starts;
    the first ``head_start`` (default HEAD_START) bytes longer: this process reads it."""
    size = os.path.getsize(path)
    head_start = min(HEAD_START if head_start is None else head_start, size // (4 * parts))
    cuts = [0]
    with open(path, "rb", buffering=0) as raw:
        for k in range(1, parts):
            target = head_start + (size - head_start) * k // parts
            at = _next_entry_start(raw, max(target, cuts[-1] + 1), size)
            if at >= size:
                break
            cuts.append(at)
    return list(zip(cuts, cuts[1:] + [size], strict=True))


# ---- digesting -------------------------------------------------------------------------------
def _blocks(raw: BinaryIO, start: int, end: int) -> Iterator[str]:
    """The text of bytes [start, end) of a file in blocks of about _BLOCK bytes, each cut
    after a newline (so a block never ends inside a line or a character)."""
    raw.seek(start)
    left = end - start
    rest = b""
    while left > 0:
        block = raw.read(min(_BLOCK, left))
        if not block:
            break
        left -= len(block)
        if rest:
            block = rest + block
        cut = block.rfind(b"\n") + 1 if left > 0 else len(block)
        rest = block[cut:]
        if cut:
            # Slow logs hold whatever bytes clients sent; never die on one bad byte.
            yield (block[:cut] if rest else block).decode("utf-8", "replace")
    if rest:
        yield rest.decode("utf-8", "replace")


def line_counts(path: str, offsets: list[int]) -> list[int]:
    """The number of lines before each of ``offsets`` (ascending), as the text layer
    splits lines (``newline=""``: LF, CR LF and a lone CR end one line each)."""
    counts = []
    lines = 0
    cr = False  # the previous block ended with \r
    with open(path, "rb", buffering=0) as raw:
        pos = 0
        for offset in offsets:
            while pos < offset:
                block = raw.read(min(_BLOCK, offset - pos))
                if not block:
                    break
                pos += len(block)
                lines += block.count(b"\n")
                if cr or b"\r" in block:
                    lines += (block.count(b"\r") - block.count(b"\r\n")
                              - (cr and block[0] == 0x0A))  # a \r\n cut between blocks
                    cr = block[-1] == 0x0D
            counts.append(lines)
    return counts


def digest_range(path: str, start: int, end: int, instance_id: str = "file",
                 examples: int = 5) -> DigestAggregator:
    """Digest bytes [start, end) of a file (``start`` an entry start, ``end`` one or the end
    of the file) as one pass over the whole file would.  Error samples' line numbers count
    from ``start``."""
    from analysis.digest import DigestAggregator
    from analysis.fingerprint import fingerprint_and_id
    from analysis.slowlog import SlowLogStream, iter_entries_text

    aggregator = DigestAggregator(fingerprint_and_id, examples_per_digest=examples,
                                  fingerprint_cache=FINGERPRINT_CACHE,
                                  fingerprint_cache_chars=FINGERPRINT_CACHE_CHARS)
    stream = SlowLogStream(keep_extra=False)  # a digest reads no header field but its own
    with open(path, "rb", buffering=0) as raw:
        if start:
            stream.current_db, stream.last_time = state_at(raw, start)
        aggregator.add_all(instance_id, iter_entries_text(_blocks(raw, start, end), stream))
    return aggregator


def _worker() -> None:
    """Entry point of a worker process: ``argv[2]`` is the JSON list of `digest_range`'s
    arguments; the pickled result goes to stdout."""
    result = digest_range(*json.loads(sys.argv[2]))
    sys.stdout.buffer.write(pickle.dumps(result, pickle.HIGHEST_PROTOCOL))


def _spawn(args: list[Any]) -> subprocess.Popen[bytes]:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from commands.digest import _worker; _worker()")
    return subprocess.Popen([sys.executable, "-c", code, str(ROOT), json.dumps(args)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)


def default_jobs(path: str) -> int:
    if path == "-":
        return 1
    return max(1, min(os.cpu_count() or 1, os.path.getsize(path) // MIN_BYTES_PER_JOB))


def digest_file(path: str, instance_id: str = "file", examples: int = 5,
                jobs: int = 1) -> DigestAggregator:
    """Digest a slow-log file (memory ~ digests) with ``jobs`` processes.

    The workers are spawned before this process imports the parser, the fingerprint and the
    aggregator (about 35 ms), so that their start (a fresh interpreter, ~70 ms) overlaps
    it."""
    if path == "-":
        from analysis.digest import DigestAggregator
        from analysis.fingerprint import fingerprint_and_id
        from analysis.slowlog import iter_entries

        aggregator = DigestAggregator(fingerprint_and_id, examples_per_digest=examples)
        return aggregator.add_all(instance_id, iter_entries(sys.stdin))
    path = os.path.abspath(path)
    ranges = split_ranges(path, jobs) if jobs > 1 else [(0, os.path.getsize(path))]
    procs = [_spawn([path, start, end, instance_id, examples]) for start, end in ranges[1:]]
    try:
        aggregator = digest_range(path, *ranges[0], instance_id, examples)
        lines_before: list[int] | None = None  # counted only if an error sample needs it
        for k, (proc, (start, end)) in enumerate(zip(procs, ranges[1:], strict=True), 1):
            out, _ = proc.communicate()
            if proc.returncode:
                raise RuntimeError(f"the worker for bytes {start}-{end} failed "
                                   f"(exit status {proc.returncode})")
            part: DigestAggregator = pickle.loads(out)
            for sample in part.error_samples:
                if sample.get("line") is not None:
                    if lines_before is None:
                        lines_before = line_counts(path, [s for s, _ in ranges])
                    sample["line"] += lines_before[k]
            aggregator.merge(part)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return aggregator


# ---- output -----------------------------------------------------------------------------------
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
        jobs = args.jobs if args.jobs > 0 else default_jobs(args.file)
        aggregator = digest_file(args.file, args.instance, args.examples, jobs)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_digests(aggregator, args.format, args.limit, sys.stdout)
    summary: dict[str, Any] = aggregator.summary()
    print(f"{summary['entries']:,} entries, {summary['digests']:,} digests, "
          f"{summary['malformed']:,} malformed", file=sys.stderr)
    for sample in summary["error_samples"][:5]:
        print(f"  malformed at line {sample.get('line')}: {sample.get('reason')}",
              file=sys.stderr)
    return 0
