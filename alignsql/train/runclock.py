"""Wall time and peak memory of a run over every process it took.

A long run is killed and resumed (a session ends, a job is preempted, a machine reboots); the
time and memory one process measures are then its own stretch only. ``RunClock`` keeps one
entry per process in ``<run>/wall.json``, rewritten every ``every`` seconds by a daemon thread,
so a killed process loses at most that much of its time; the gaps between processes do not
count. Work a killed process did that its successor redoes is counted: it was spent.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from alignsql.train.callbacks import peak_rss_mb


def totals(processes: list[dict]) -> dict:
    """The run's wall seconds (the sum over its processes), how many processes it took, its
    peak RSS (the largest of theirs), and how many times the record of earlier processes was
    unreadable and lost (then wall seconds and processes are lower bounds)."""
    kept = [p for p in processes if "lost" not in p]
    peaks = [p["peak_rss_mb"] for p in kept if p.get("peak_rss_mb") is not None]
    return {"wall_s": sum(p["seconds"] for p in kept), "processes": len(kept),
            "peak_rss_mb": max(peaks) if peaks else None,
            "lost_records": len(processes) - len(kept)}


class RunClock:
    """``with RunClock(run / "wall.json") as clock: ...`` then ``clock.totals()``."""

    def __init__(self, path: Path, every: float = 30.0, enabled: bool = True,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.path, self.every, self.enabled, self.now = Path(path), every, enabled, now
        self.processes: list[dict] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.processes = self._read()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self.processes.append({"started": started, "seconds": 0.0, "peak_rss_mb": None})
        self.start = self.now()
        self.tick()
        if self.enabled and self.every > 0:
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.tick()

    def tick(self) -> None:
        """Record this process's time and memory so far (the thread calls it every ``every``)."""
        self.processes[-1].update(seconds=self.now() - self.start, peak_rss_mb=peak_rss_mb())
        if self.enabled:  # one writer: the main process of a multi-process run
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.processes, indent=1))
            tmp.replace(self.path)  # a kill mid-write leaves the previous file whole

    def totals(self) -> dict:
        return totals(self.processes)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self.tick()

    def _read(self) -> list[dict]:
        if not self.path.exists():
            return []
        try:
            return list(json.loads(self.path.read_text()))
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
            # not ours or torn: the earlier processes' time is lost, not invented, and the
            # loss is kept in the record so the totals say they are lower bounds
            return [{"lost": f"{self.path.name} unreadable: {type(err).__name__}"}]
