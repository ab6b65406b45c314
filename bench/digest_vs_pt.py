"""Benchmark `python app.py digest` against pt-query-digest on three slow logs, in one run.

    .venv/bin/python bench/digest_vs_pt.py --repeat 2           # the three logs below
    .venv/bin/python bench/digest_vs_pt.py --log /path/slow.log # one (or more) logs of yours

The logs (written into bench/out/, git-ignored, and reused):

(a) one a real MariaDB wrote: bench/make_mariadb_slowlog.py starts a throwaway server with
    slow_query_log=1, long_query_time=0, log_slow_verbosity=query_plan,explain and runs
    the tests' varied workload, then 80,000 statements of six shapes (~49 MB; needs
    mariadbd; `--mariadb-log PATH` reuses one);
(b) MySQL 8.0's log_slow_extra=ON format, built from the manual's field list by
    bench/make_mysql8_extra_log.py (100,000 entries, ~66 MB);
(c) the project's generator, demo/slowlog_generator.py (`--size-mb`, 100 MB by default).

For each log it runs `pt-query-digest --output json LOG` (pt's default work and options),
`python app.py digest LOG --format json` (default --jobs: one process per CPU) and the
same with `--jobs 1`, and measures each one's wall time, CPU time (user + system, the whole
process tree, from wait4) and peak RSS: the sum over processes of each one's own peak
(VmHWM, sampled from /proc every 20 ms), an upper bound of the true peak of the sum.

Wall times mean something only on an otherwise idle machine: each run waits (up to
`--max-wait` s) for the CPUs to be quiet, the CPU time other processes used during each run
is printed ("others CPU s") with a warning when it is more than 10% of the machine, and
`--repeat N` keeps each tool's fastest of N runs.

It also checks that both tools saw the same log: total entries and total Query_time of pt's
`global` metrics against the sum over our digests, and per query class (pt's checksum = our
query id) the count and Query_time sum. Where the classes differ, pt is run once more
(untimed, `--limit 100%`) and its classes are mapped onto ours by our fingerprint of pt's
example: the check passes when they map with the same counts and sums (the differences are
then the deliberate ones listed in analysis/fingerprint.py, printed).

Prints one table and PASS/FAIL lines per log for the targets (default --jobs at least
`--min-speedup` (10) times faster than pt, `--jobs 1` at least `--min-speedup-one` (5),
peak RSS at most `--max-rss-mb` (100), same totals); exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
MB = 1024 * 1024


# ---- the log -----------------------------------------------------------------------------------
def ensure_log(size_mb: int, seed: int) -> Path:
    """bench/out/slow-<size>mb-seed<seed>.log, generated unless already there (a sidecar
    .json records size, seed and byte count, so a partial or different file is redone)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"slow-{size_mb}mb-seed{seed}.log"
    meta_path = path.with_suffix(".json")
    want = {"size_mb": size_mb, "seed": seed}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want and meta.get("bytes") == path.stat().st_size:
            print(f"reusing {path.relative_to(ROOT)} ({meta['entries']:,} entries)")
            return path
    sys.path.insert(0, str(ROOT))
    from demo.slowlog_generator import write_slow_log

    print(f"generating {path.relative_to(ROOT)} ({size_mb} MB, seed {seed}) ...", flush=True)
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    entries = write_slow_log(str(tmp), size_mb * MB, seed)
    tmp.replace(path)
    meta_path.write_text(json.dumps({**want, "bytes": path.stat().st_size, "entries": entries}))
    print(f"  {entries:,} entries in {time.perf_counter() - started:.1f} s")
    return path


# ---- measuring a process tree -------------------------------------------------------------------
def _ppids() -> dict[int, int]:
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        out[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    return out


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in _ppids().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _rss_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in kB, None once the process is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = fh.read()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        if line.startswith((b"VmRSS:", b"VmHWM:")):
            values[line[:5]] = int(line.split()[1])
    if len(values) < 2:
        return None
    return values[b"VmRSS"], values[b"VmHWM"]


@dataclass
class Sampler:
    """Polls the RSS of a process and its descendants until stopped."""

    root: int
    peaks_kb: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM last seen
    concurrent_kb: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        known = {self.root}
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_scan:  # a full /proc scan costs ~1 ms: not every sample
                known |= _descendants(self.root)
                next_scan = now + 0.1
            total = 0
            for pid in known:
                got = _rss_kb(pid)
                if got is not None:
                    total += got[0]
                    self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), got[1])
            self.concurrent_kb = max(self.concurrent_kb, total)
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()


def _cpu_busy_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (all CPUs, from /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, busy_limit: float = 0.15) -> float:
    """Wait (at most ``max_wait`` s) until the machine's CPUs are less than ``busy_limit``
    busy over one second; returns the last busy fraction seen."""
    cpus = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    while True:
        before = _cpu_busy_seconds()
        time.sleep(1.0)
        busy = (_cpu_busy_seconds() - before) / cpus
        if busy < busy_limit or time.monotonic() >= deadline:
            return busy
        print(f"  waiting: the CPUs are {busy:.0%} busy", flush=True)


@dataclass
class Result:
    tool: str
    wall: float
    cpu: float
    peak_mb: float  # sum over processes of each one's peak
    concurrent_mb: float
    processes: int
    status: int
    stdout: Path
    stderr: str
    others_cpu: float  # CPU seconds other processes of the machine used meanwhile


def measure(tool: str, cmd: list[str], stdout: Path) -> Result:
    print(f"running {tool}: {' '.join(cmd)}", flush=True)
    with open(stdout, "wb") as out, tempfile.TemporaryFile() as err:
        busy_before = _cpu_busy_seconds()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        sampler = Sampler(proc.pid)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        busy = _cpu_busy_seconds() - busy_before
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        sampler.stop()
        thread.join()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss: the largest single process of the tree (kB on Linux); a floor for the sum
    peak_kb = max(sum(sampler.peaks_kb.values()), usage.ru_maxrss)
    cpu = usage.ru_utime + usage.ru_stime
    return Result(tool, wall, cpu, peak_kb / 1024, sampler.concurrent_kb / 1024,
                  len(sampler.peaks_kb), proc.returncode, stdout, stderr,
                  max(0.0, busy - cpu))


def measure_best(tool: str, cmd: list[str], stdout: Path, repeat: int,
                 max_wait: float) -> Result:
    """The run with the least wall time of ``repeat``, each started on a quiet machine."""
    best: Result | None = None
    for _ in range(repeat):
        wait_for_quiet(max_wait)
        result = measure(tool, cmd, stdout)
        if result.status:
            return result
        if best is None or result.wall < best.wall:
            best = result
    assert best is not None
    return best


# ---- reading the outputs ------------------------------------------------------------------------
def pt_totals(path: Path) -> tuple[int, float, int, dict[str, tuple[int, float, str, str]]]:
    """pt's entries, Query_time sum, number of classes, and (count, sum, fingerprint,
    example) of the classes it reports: by default (--limit 95%:20, --outliers) not all."""
    report = json.loads(path.read_text())
    glob = report["global"]
    classes = {
        c["checksum"].upper().removeprefix("0X"): (
            int(c["query_count"]), float(c["metrics"]["Query_time"]["sum"]),
            c.get("fingerprint", ""), _pt_text((c.get("example") or {}).get("query", "")))
        for c in report["classes"]
    }
    return (int(glob["query_count"]), float(glob["metrics"]["Query_time"]["sum"]),
            int(glob["unique_query_count"]), classes)


def _pt_text(text: str) -> str:
    """pt writes a statement's bytes into its JSON as if they were Latin-1: undo that."""
    try:
        return text.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text


def our_totals(path: Path) -> tuple[int, float, int, dict[str, tuple[int, float]]]:
    classes: dict[str, tuple[int, float]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d: dict[str, Any] = json.loads(line)
            classes[d["query_id"]] = (d["count"], d["query_time"]["sum"])
    return (sum(c for c, _ in classes.values()), math.fsum(s for _, s in classes.values()),
            len(classes), classes)


def _same_sum(a: float, b: float) -> bool:
    # both print 6 decimals; summing rounded values moves the last digits a little
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-5)


def compare_classes(pt_unique: int, pt_classes: dict[str, tuple[int, float, str, str]],
                    our_unique: int, ours: dict[str, tuple[int, float]]) -> tuple[str, bool]:
    """Do pt's classes and ours agree?  Exactly (same ids, counts and sums), or through the
    deliberate fingerprint differences listed in analysis/fingerprint.py (upper-case hex,
    doubled quotes, ...): each pt class then maps, by our fingerprint of its example, onto
    one of ours, and the counts and sums of the pt classes mapped onto each of ours add up
    to ours.  Needs every class of pt's (``--limit 100%``) to tell."""
    same = [q for q in pt_classes if q in ours and pt_classes[q][0] == ours[q][0]
            and _same_sum(pt_classes[q][1], ours[q][1])]
    if pt_unique == our_unique and len(same) == len(pt_classes):
        return (f"query classes: pt {pt_unique}, ours {our_unique}; of the {len(pt_classes)} "
                f"pt reports, {len(same)} have our query id, count and Query_time sum"), True
    if len(pt_classes) != pt_unique:
        return (f"query classes: pt {pt_unique}, ours {our_unique}; {len(same)} of the "
                f"{len(pt_classes)} pt reports agree"), False
    sys.path.insert(0, str(ROOT))
    from analysis.fingerprint import fingerprint_and_id

    mapped: dict[str, list[str]] = {}
    for q, (_, _, _, example) in pt_classes.items():
        mapped.setdefault(fingerprint_and_id(example)[1] if example else q, []).append(q)
    ok = set(mapped) == set(ours) and all(
        sum(pt_classes[q][0] for q in qs) == ours[our][0]
        and _same_sum(math.fsum(pt_classes[q][1] for q in qs), ours[our][1])
        for our, qs in mapped.items())
    merged = {our: qs for our, qs in mapped.items() if len(qs) > 1 or qs[0] != our}
    lines = [f"query classes: pt {pt_unique}, ours {our_unique}; pt's map onto ours with the "
             f"same counts and Query_time sums: {'yes' if ok else 'NO'}; where they differ "
             "(deliberate fingerprint differences, analysis/fingerprint.py):"]
    for our, qs in merged.items():
        lines.append(f"        ours {ours.get(our, (0,))[0]:>6}  {our}  <- pt "
                     + "; ".join(f"{pt_classes[q][0]} x {pt_classes[q][2][:70]!r}" for q in qs))
    return "\n".join(lines), ok


# ---- the logs --------------------------------------------------------------------------------
def ensure_mariadb_log(statements: int) -> Path | None:
    """bench/out/mariadb-<N>.log, written by bench/make_mariadb_slowlog.py (a throwaway
    MariaDB, long_query_time=0, log_slow_verbosity=query_plan,explain) unless there."""
    path = OUT / f"mariadb-{statements}.log"
    if path.exists() and path.with_suffix(".done").exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"writing {path.relative_to(ROOT)} with a throwaway MariaDB ...", flush=True)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "make_mariadb_slowlog.py"),
                           "--statements", str(statements), "--out", str(path)], check=False)
    if done.returncode or not path.exists():
        print("  no MariaDB log (is mariadbd installed?): skipped")
        return None
    path.with_suffix(".done").touch()
    return path


def ensure_mysql8_log(entries: int) -> Path:
    path = OUT / f"mysql8-extra-{entries}.log"
    if not (path.exists() and path.with_suffix(".done").exists()):
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_mysql8_extra_log.py"),
                        "--entries", str(entries), "--out", str(path)], check=True)
        path.with_suffix(".done").touch()
    return path


@dataclass
class LogRun:
    label: str
    log: Path
    pt: Result
    ours: Result  # default --jobs
    ours1: Result  # --jobs 1
    checks: list[tuple[str, bool]]
    entries: int


def run_log(label: str, log: Path, args: argparse.Namespace, tmp: Path) -> LogRun | None:
    ours_cmd = [sys.executable, str(ROOT / "app.py"), "digest", str(log), "--format", "json"]
    if args.jobs:
        ours_cmd += ["--jobs", str(args.jobs)]
    print(f"\n== {label}: {log} ({log.stat().st_size / MB:.1f} MB)", flush=True)
    pt = measure_best("pt-query-digest", [args.pt, "--output", "json", str(log)],
                      tmp / "pt.json", args.repeat, args.max_wait)
    ours = measure_best("ours", ours_cmd, tmp / "ours.jsonl", args.repeat, args.max_wait)
    ours1 = measure_best("ours --jobs 1", ours_cmd + ["--jobs", "1"], tmp / "ours1.jsonl",
                         args.repeat, args.max_wait)
    for r in (pt, ours, ours1):
        if r.status:
            print(f"{r.tool} failed (exit status {r.status}):\n{r.stderr[-2000:]}")
            return None
    pt_n, pt_qt, pt_unique, pt_classes = pt_totals(pt.stdout)
    our_n, our_qt, our_unique, our_classes = our_totals(ours.stdout)
    same_as_one_process = (tmp / "ours.jsonl").read_bytes() == (tmp / "ours1.jsonl").read_bytes()
    if len(pt_classes) != pt_unique and (
            pt_unique != our_unique or any(q not in our_classes for q in pt_classes)):
        # pt's report left classes out: an untimed run that lists them all, to compare
        with open(tmp / "pt-all.json", "wb") as out:
            subprocess.run([args.pt, "--output", "json", "--limit", "100%", str(log)],
                           stdout=out, check=True)
        pt_unique, pt_classes = pt_totals(tmp / "pt-all.json")[2:]
    speedup, speedup1 = pt.wall / ours.wall, pt.wall / ours1.wall
    peak = max(ours.peak_mb, ours1.peak_mb)
    checks = [
        (f"speed, default --jobs: {speedup:.1f}x faster than pt-query-digest (wall; CPU time "
         f"{pt.cpu / ours.cpu:.1f}x less); target >= {args.min_speedup:g}x",
         speedup >= args.min_speedup),
        (f"speed, --jobs 1: {speedup1:.1f}x; target >= {args.min_speedup_one:g}x",
         speedup1 >= args.min_speedup_one),
        (f"peak RSS: {peak:.1f} MB, all processes; target <= {args.max_rss_mb:g} MB",
         peak <= args.max_rss_mb),
        (f"entries: pt {pt_n:,}, ours {our_n:,}", pt_n == our_n),
        (f"total Query_time: pt {pt_qt:.6f} s, ours {our_qt:.6f} s",
         _same_sum(pt_qt, our_qt)),
        compare_classes(pt_unique, pt_classes, our_unique, our_classes),
        ("default --jobs and --jobs 1 print the same digests", same_as_one_process),
    ]
    return LogRun(label, log, pt, ours, ours1, checks, pt_n)


# ---- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, action="append",
                        help="an existing slow log (repeatable); default: the three logs")
    parser.add_argument("--size-mb", type=int, default=100, help="generated log size (100)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--mariadb-log", type=Path,
                        help="the MariaDB log to use (default: bench/out/mariadb-N.log, "
                             "written by bench/make_mariadb_slowlog.py if absent)")
    parser.add_argument("--mariadb-statements", type=int, default=80_000)
    parser.add_argument("--mysql8-entries", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=0,
                        help="our --jobs (default: the command's default, one per CPU)")
    parser.add_argument("--pt", default=shutil.which("pt-query-digest") or "pt-query-digest",
                        help="the pt-query-digest to run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each tool; the least wall time counts (1)")
    parser.add_argument("--max-wait", type=float, default=120.0,
                        help="seconds to wait for a quiet machine before each run (120)")
    parser.add_argument("--min-speedup", type=float, default=10.0,
                        help="target with the default --jobs (10)")
    parser.add_argument("--min-speedup-one", type=float, default=5.0,
                        help="target with --jobs 1 (5)")
    parser.add_argument("--max-rss-mb", type=float, default=100.0)
    args = parser.parse_args(argv)

    if args.log:
        logs = [(p.name, p.resolve()) for p in args.log]
    else:
        maria = args.mariadb_log or ensure_mariadb_log(args.mariadb_statements)
        logs = ([("MariaDB 10.11, query_plan,explain", maria.resolve())] if maria else [])
        logs += [("MySQL 8 log_slow_extra", ensure_mysql8_log(args.mysql8_entries)),
                 ("demo generator", ensure_log(args.size_mb, args.seed))]
    runs: list[LogRun] = []
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        for label, log in logs:
            run = run_log(label, log, args, Path(tmp))
            if run is None:
                return 1
            runs.append(run)

    cpus = os.cpu_count() or 1
    print(f"\n{cpus} CPUs; best of {args.repeat} run(s) of each tool; wall s; peak RSS MB "
          "of all processes; others CPU s (pt/-j1/ours): what other processes used meanwhile")
    head = (f"{'log':<34} {'MB':>6} {'entries':>9} {'pt wall':>8} {'ours -j1':>9} "
            f"{'ours':>6} {'ratio -j1':>9} {'ratio':>6} {'RSS pt':>7} {'RSS -j1':>8} "
            f"{'RSS ours':>8} {'others CPU s':>13}")
    print(head)
    for r in runs:
        others = f"{r.pt.others_cpu:.1f}/{r.ours1.others_cpu:.1f}/{r.ours.others_cpu:.1f}"
        print(f"{r.label:<34} {r.log.stat().st_size / MB:>6.1f} {r.entries:>9,} "
              f"{r.pt.wall:>8.2f} {r.ours1.wall:>9.2f} {r.ours.wall:>6.2f} "
              f"{r.pt.wall / r.ours1.wall:>8.1f}x {r.pt.wall / r.ours.wall:>5.1f}x "
              f"{r.pt.peak_mb:>7.1f} {r.ours1.peak_mb:>8.1f} {r.ours.peak_mb:>8.1f} "
              f"{others:>13}")
    print(f"\n{'CPU s (user + system)':<34} {'pt':>8} {'ours -j1':>9} {'ours':>6}")
    for r in runs:
        print(f"{r.label:<34} {r.pt.cpu:>8.2f} {r.ours1.cpu:>9.2f} {r.ours.cpu:>6.2f}")
    failed = False
    for r in runs:
        print(f"\n{r.label}:")
        for who in (r.pt, r.ours1, r.ours):
            if who.others_cpu > 0.1 * who.wall * cpus:
                print(f"WARNING: other processes used {who.others_cpu:.1f} CPU s during the "
                      f"{who.tool} run ({who.others_cpu / (who.wall * cpus):.0%} of the "
                      "machine): its wall time is not reliable; run again on a quiet machine")
        for text, ok in r.checks:
            print(f"{'PASS' if ok else 'FAIL'}  {text}")
            failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
