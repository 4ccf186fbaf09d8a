"""Hostile SQL against the executor: every query of the test corpus (tests/fixtures/hostile.sql
and hostile_gen.py), on a copy of the test fixture database and on a real Spider database
(read-only, from the shared data), each in a fresh query helper so its peak memory is its own.

For each query: category, outcome, seconds vs the timeout, the helper's peak RSS (sampled
every 10 ms from /proc) and whether the database file is byte-identical with no new file
beside it. Summary: stopped_within_limit (fraction finishing within timeout + 0.5 s),
max_overrun_s, max_rss_mb (helper and this process), db_unchanged (fraction).

    python bench/hostile_bench.py [--timeout 2]  -> bench/results/hostile_bench.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
sys.path.insert(0, str(ROOT / "tests" / "eval"))
RESULT = ROOT / "bench" / "results" / "hostile_bench.json"
GRACE_S = 0.5


class PeakRss:
    """Samples one process's resident set size until stopped."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for line in open(f"/proc/{self.pid}/status"):
                    if line.startswith("VmRSS:"):
                        self.peak = max(self.peak, int(line.split()[1]) // 1024)
            except OSError:
                return
            self._stop.wait(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def state(db: Path) -> tuple[str, frozenset]:
    return (hashlib.sha256(db.read_bytes()).hexdigest(),
            frozenset(p.name for p in db.parent.iterdir()))


def run_one(db: Path, sql: str, timeout: float) -> dict:
    from alignsql.eval import sandbox
    from alignsql.eval.executor import execute
    box = sandbox.current()
    box.kill()
    box._start()  # noqa: SLF001 (a fresh helper per query: its peak is this query's)
    watch = PeakRss(box.proc.pid)
    start = time.perf_counter()
    res = execute(db, sql, timeout_s=timeout, max_rows=1000)
    took = time.perf_counter() - start
    return {"outcome": ("ok-truncated" if res.truncated else "ok") if res.ok else res.error,
            "message": res.message[:120], "seconds": round(took, 4),
            "helper_peak_rss_mb": watch.stop()}


def databases(tmp: Path) -> dict[str, Path]:
    from conftest import build_db
    (tmp / "fixture").mkdir()
    out = {"fixture": build_db(tmp / "fixture" / "concert_singer.sqlite")}
    data = Path(os.environ.get("ALIGNSQL_DATA", ROOT.parent / "shared" / "data"))
    spider = data / "spider" / "database" / "world_1" / "world_1.sqlite"
    if spider.exists():
        (tmp / "spider").mkdir()
        out["spider_world_1"] = Path(shutil.copy(spider, tmp / "spider" / spider.name))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    from hostile_gen import corpus
    cases = corpus()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for db_name, db in databases(Path(tmp)).items():
            for i, (kind, expect, sql) in enumerate(cases):
                before = state(db)
                row = run_one(db, sql, args.timeout)
                row.update(db=db_name, case=i, kind=kind, expected=expect,
                           sql=sql if len(sql) <= 200 else sql[:200] + f"... ({len(sql):,} chars)",
                           # expectations are written for the fixture's tables
                           as_expected=(row["outcome"] in expect.split("|")
                                        if db_name == "fixture" else None),
                           db_unchanged=state(db) == before)
                rows.append(row)
                print(f"{db_name:15s} {kind:16s} {row['outcome']:13s} {row['seconds']:7.3f}s "
                      f"{row['helper_peak_rss_mb']:5d} MB  {sql[:60]}", flush=True)
    overrun = [max(0.0, r["seconds"] - args.timeout) for r in rows]
    out = {
        "n_queries": len(cases), "n_runs": len(rows), "timeout_s": args.timeout,
        "summary": {
            "stopped_within_limit": sum(r["seconds"] <= args.timeout + GRACE_S for r in rows)
            / len(rows),
            "max_overrun_s": max(overrun),
            "max_rss_mb": max(max(r["helper_peak_rss_mb"] for r in rows),
                              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024),
            "max_helper_rss_mb": max(r["helper_peak_rss_mb"] for r in rows),
            "evaluating_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            // 1024,
            "db_unchanged": sum(r["db_unchanged"] for r in rows) / len(rows),
            "as_expected_on_fixture": sum(bool(r["as_expected"]) for r in rows
                                          if r["db"] == "fixture")
            / sum(r["db"] == "fixture" for r in rows)},
        "targets": {"stopped_within_limit": 1.0, "max_overrun_s": 0.5, "max_rss_mb": 1024,
                    "db_unchanged": 1.0},
        "by_kind": {k: sorted({r["outcome"] for r in rows if r["kind"] == k})
                    for k in sorted({r["kind"] for r in rows})},
        "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg": os.getloadavg(),
                    "uptime": Path("/proc/uptime").read_text().split()[0]},
        "command": "python bench/hostile_bench.py" + (f" --timeout {args.timeout:g}"
                                                      if args.timeout != 2.0 else ""),
    }
    RESULT.write_text(json.dumps(out, indent=2))
    print(json.dumps(out["summary"], indent=2))


if __name__ == "__main__":
    main()
