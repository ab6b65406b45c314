"""Benchmark `python app.py digest` against pt-query-digest on one big slow log.

    .venv/bin/python bench/digest_vs_pt.py                  # 200 MB generated log, seed 1
    .venv/bin/python bench/digest_vs_pt.py --log /path/to/slow.log --jobs 2

Generates the log with demo/slowlog_generator.py into bench/out/ (git-ignored; reused when a
file of the same size and seed is there), runs `pt-query-digest --output json FILE` and
`python app.py digest FILE --format json`, one after the other, and measures each one's wall
time, CPU time (user + system, the whole process tree, from wait4) and peak RSS. Peak RSS
counts every process of the tree: the sum over processes of each one's own peak (VmHWM,
sampled from /proc every 20 ms) -- an upper bound of the true peak of the sum, which is
printed too ("concurrent": the largest sum of VmRSS seen at one sample).

Wall times mean something only on an otherwise idle machine: each run waits (up to
`--max-wait` s) for the CPUs to be quiet, the CPU time other processes used during each run
is printed ("others CPU s") with a warning when it is more than 10% of the machine, and
`--repeat N` keeps each tool's fastest of N runs.

In the same run it checks that both tools saw the same log: total entries and total
Query_time of pt's `global` metrics against the sum over our digests, and per query class
(pt's checksum = our query id) the count and Query_time sum.

Prints a table and PASS/FAIL lines for the targets (at least `--min-speedup` times faster
than pt, peak RSS at most `--max-rss-mb`, same totals); exits 1 if any fails.
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
def pt_totals(path: Path) -> tuple[int, float, int, dict[str, tuple[int, float]]]:
    """pt's entries, Query_time sum, number of classes, and (count, sum) of the classes it
    reports: by default (--limit 95%:20, --outliers) not all of them."""
    report = json.loads(path.read_text())
    glob = report["global"]
    classes = {
        c["checksum"].upper().removeprefix("0X"): (
            int(c["query_count"]), float(c["metrics"]["Query_time"]["sum"]))
        for c in report["classes"]
    }
    return (int(glob["query_count"]), float(glob["metrics"]["Query_time"]["sum"]),
            int(glob["unique_query_count"]), classes)


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


# ---- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, help="an existing slow log (default: generate)")
    parser.add_argument("--size-mb", type=int, default=200, help="generated log size (200)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--jobs", type=int, default=0,
                        help="our --jobs (default: the command's default, one per CPU)")
    parser.add_argument("--pt", default=shutil.which("pt-query-digest") or "pt-query-digest",
                        help="the pt-query-digest to run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each tool; the least wall time counts (1)")
    parser.add_argument("--max-wait", type=float, default=120.0,
                        help="seconds to wait for a quiet machine before each run (120)")
    parser.add_argument("--min-speedup", type=float, default=5.0)
    parser.add_argument("--max-rss-mb", type=float, default=150.0)
    args = parser.parse_args(argv)

    log = args.log.resolve() if args.log else ensure_log(args.size_mb, args.seed)
    size_mb = log.stat().st_size / MB
    ours_cmd = [sys.executable, str(ROOT / "app.py"), "digest", str(log), "--format", "json"]
    if args.jobs:
        ours_cmd += ["--jobs", str(args.jobs)]
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        pt = measure_best("pt-query-digest", [args.pt, "--output", "json", str(log)],
                          Path(tmp) / "pt.json", args.repeat, args.max_wait)
        ours = measure_best("ours", ours_cmd, Path(tmp) / "ours.jsonl", args.repeat,
                            args.max_wait)
        for r in (pt, ours):
            if r.status:
                print(f"{r.tool} failed (exit status {r.status}):\n{r.stderr[-2000:]}")
                return 1
        pt_n, pt_qt, pt_unique, pt_classes = pt_totals(pt.stdout)
        our_n, our_qt, our_unique, our_classes = our_totals(ours.stdout)

    print()
    cpus = os.cpu_count() or 1
    print(f"log: {log} ({size_mb:.1f} MB), {cpus} CPUs, best of {args.repeat} run(s) each")
    print(f"{'tool':<18} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'processes':>10} "
          f"{'(concurrent MB)':>16} {'others CPU s':>13}")
    for r in (pt, ours):
        print(f"{r.tool:<18} {r.wall:>8.2f} {r.cpu:>8.2f} {r.peak_mb:>12.1f} {r.processes:>10} "
              f"{r.concurrent_mb:>16.1f} {r.others_cpu:>13.2f}")
    for r in (pt, ours):
        if r.others_cpu > 0.1 * r.wall * cpus:
            print(f"WARNING: other processes used {r.others_cpu:.1f} CPU s during the "
                  f"{r.tool} run ({r.others_cpu / (r.wall * cpus):.0%} of the machine): "
                  "its wall time is not reliable; run again on a quiet machine")
    speedup = pt.wall / ours.wall
    checks = [
        (f"speed: {speedup:.1f}x faster than pt-query-digest (wall; CPU time "
         f"{pt.cpu / ours.cpu:.1f}x less); target >= {args.min_speedup:g}x",
         speedup >= args.min_speedup),
        (f"peak RSS: {ours.peak_mb:.1f} MB, all processes; target <= {args.max_rss_mb:g} MB",
         ours.peak_mb <= args.max_rss_mb),
        (f"entries: pt {pt_n:,}, ours {our_n:,}", pt_n == our_n),
        (f"total Query_time: pt {pt_qt:.6f} s, ours {our_qt:.6f} s",
         _same_sum(pt_qt, our_qt)),
    ]
    same = [q for q in pt_classes if q in our_classes
            and pt_classes[q][0] == our_classes[q][0]
            and _same_sum(pt_classes[q][1], our_classes[q][1])]
    checks.append((f"query classes: pt {pt_unique}, ours {our_unique}; of the {len(pt_classes)} "
                   f"pt reports, {len(same)} have our query id, count and Query_time sum",
                   pt_unique == our_unique and len(same) == len(pt_classes)))
    goal = "reached" if speedup >= 10 else "not yet"
    print(f"speed-up {speedup:.1f}x (long-term goal 10x: {goal})")
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
