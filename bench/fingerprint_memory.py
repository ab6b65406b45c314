"""Memory and time of fingerprinting one huge statement (issue 8, point 5).

    .venv/bin/python bench/fingerprint_memory.py                      # 100 MB, every shape
    .venv/bin/python bench/fingerprint_memory.py --mb 20 --shape ones
    git show <rev>:analysis/fingerprint.py > /tmp/old_fingerprint.py
    .venv/bin/python bench/fingerprint_memory.py --impl /tmp/old_fingerprint.py  # before/after

Writes each statement to bench/out/ (git-ignored) and fingerprints it in a fresh process
per run: analysis.fingerprint, optionally another version of that module (``--impl``), and
``pt-fingerprint FILE`` when Percona Toolkit is installed. Our runs print the peak RSS above
the RSS once the statement is loaded ("extra": Linux's peak is reset through
/proc/self/clear_refs just before the call), and that as a multiple of the statement's size;
pt's "extra" is its peak above a run on a one-line file, so it includes pt's own copy of the
statement. Checks that every run gives pt's query ID.

Shapes: ``ints`` ``IN (1, 2, 3, ...)``; ``ones`` ``IN (1, 1, 1, ...)``, the worst for
re.sub (one 2-character object per number); ``strings`` ``IN ('v1', 'v2', ...)``;
``columns`` ``SELECT c1, c2, ...``, whose fingerprint is as long as the statement and is
stored cut at 64 Ki characters.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
MB = 1_000_000
SHAPES = ("ints", "ones", "strings", "columns")


def write_statement(shape: str, size: int) -> Path:
    """bench/out/fingerprint-<shape>-<bytes>.sql: one statement of about ``size`` bytes and
    ``;`` + newline, the end of a statement for pt-fingerprint's FILE mode."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"fingerprint-{shape}-{size}.sql"
    if path.exists():
        return path
    head, tail = {
        "ints": ("SELECT * FROM t WHERE id IN (", ")"),
        "ones": ("SELECT * FROM t WHERE id IN (", "0)"),
        "strings": ("SELECT * FROM t WHERE name IN (", "'end')"),
        "columns": ("SELECT ", "c0 FROM t"),
    }[shape]
    with open(path.with_suffix(".tmp"), "w", encoding="ascii") as out:
        out.write(head)
        written, i = len(head), 1
        while written < size:
            if shape == "ints":
                piece = ", ".join(map(str, range(i, i + 10_000))) + ", "
            elif shape == "ones":
                piece = "1, " * 10_000
            elif shape == "strings":
                piece = ", ".join(f"'v{j}'" for j in range(i, i + 10_000)) + ", "
            else:
                piece = ", ".join(f"c{j}" for j in range(i, i + 10_000)) + ", "
            out.write(piece)
            written += len(piece)
            i += 10_000
        out.write(tail + ";\n")
    path.with_suffix(".tmp").rename(path)
    return path


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def child(path: str, impl: str | None) -> None:
    """Fingerprint the statement in ``path`` and print JSON figures (one fresh process)."""
    if impl:
        spec = importlib.util.spec_from_file_location("fingerprint_impl", impl)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        sys.path.insert(0, str(ROOT))
        import analysis.fingerprint as module
    with open(path, encoding="utf-8") as source:
        sql = source.read()[:-2]  # without ";\n"
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak RSS is now the current RSS
    before = _status("VmRSS")
    start = time.perf_counter()
    fp, qid = module.fingerprint_and_id(sql)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    print(json.dumps({"chars": len(sql), "seconds": seconds, "extra": peak - before,
                      "peak": peak, "query_id": qid, "fingerprint_chars": len(fp),
                      "fingerprint": fp[:60]}))


def run_ours(path: Path, impl: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path)] + (["--impl", impl] if impl else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _run_pt(tool: str, path: Path) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS (bytes) and stdout of ``pt-fingerprint path``."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([tool, str(path)], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"pt-fingerprint failed with {proc.returncode}")
        out.seek(0)
        return seconds, usage.ru_maxrss * 1024, out.read()


def run_pt(tool: str, path: Path) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as tiny:
        tiny.write("SELECT 1;\n")
        tiny.flush()
        _, base, _ = _run_pt(tool, Path(tiny.name))
    seconds, peak, stdout = _run_pt(tool, path)
    fp = stdout.rstrip(b"\n")
    return {"seconds": seconds, "extra": peak - base, "peak": peak,
            "query_id": hashlib.md5(fp).hexdigest().upper(), "fingerprint_chars": len(fp),
            "fingerprint": fp[:60].decode()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=100, help="statement size, MB (10^6 B)")
    parser.add_argument("--shape", choices=SHAPES, action="append",
                        help="statement shape (repeatable; default: all)")
    parser.add_argument("--impl", help="also run this copy of analysis/fingerprint.py")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.impl)
        return 0
    if not os.path.exists("/proc/self/clear_refs"):
        raise SystemExit("needs Linux (/proc/self/clear_refs resets the peak RSS)")
    pt = shutil.which("pt-fingerprint")
    size = int(args.mb * MB)
    print(f"{'shape':8} {'run':6} {'seconds':>8} {'extra MB':>9} {'x size':>7} "
          f"{'peak RSS MB':>12}  fingerprint")
    failed = False
    for shape in args.shape or SHAPES:
        path = write_statement(shape, size)
        runs = [("ours", run_ours(path, None))]
        if args.impl:
            runs.append(("impl", run_ours(path, args.impl)))
        if pt:
            runs.append(("pt", run_pt(pt, path)))
        chars = path.stat().st_size - 2
        for name, r in runs:
            print(f"{shape:8} {name:6} {r['seconds']:8.2f} {r['extra'] / MB:9.0f} "
                  f"{r['extra'] / chars:7.2f} {r['peak'] / MB:12.0f}  "
                  f"{r['fingerprint_chars']:,} chars: {r['fingerprint']!r}")
        ids = {r["query_id"] for _, r in runs}
        if len(ids) != 1:
            failed = True
            print(f"FAIL  {shape}: query IDs differ: {ids}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
