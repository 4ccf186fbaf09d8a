"""Run time over every process of a killed and resumed run (alignsql.train.runclock, and the
metrics clock of alignsql.train.callbacks)."""
from __future__ import annotations

import json
from types import SimpleNamespace

from alignsql.train.callbacks import MetricsCallback, read_metrics, train_seconds
from alignsql.train.runclock import RunClock, totals


def test_totals_by_hand() -> None:
    """Processes of 10 s (peak 100 MB), 5 s (300 MB) and 2 s (no reading yet):
    wall 10 + 5 + 2 = 17 s, 3 processes, peak max(100, 300) = 300 MB."""
    procs = [{"seconds": 10.0, "peak_rss_mb": 100.0}, {"seconds": 5.0, "peak_rss_mb": 300.0},
             {"seconds": 2.0, "peak_rss_mb": None}]
    assert totals(procs) == {"wall_s": 17.0, "processes": 3, "peak_rss_mb": 300.0,
                             "lost_records": 0}
    assert totals([]) == {"wall_s": 0, "processes": 0, "peak_rss_mb": None, "lost_records": 0}


def test_an_unreadable_record_is_counted_as_lost_and_stays_counted(tmp_path) -> None:
    """A torn wall.json (earlier processes' time unknown), then a 4 s process, then a 6 s one:
    wall 4 + 6 = 10 s over 2 processes, a lower bound the totals flag with lost_records = 1,
    also after the next process rewrote the file."""
    path, t = tmp_path / "wall.json", [0.0]
    path.write_text('[{"started": "2026-12-06", "seconds": 3')
    with RunClock(path, every=0, now=lambda: t[0]) as first:
        t[0] = 4.0
    assert first.totals()["lost_records"] == 1 and first.totals()["wall_s"] == 4.0
    t[0] = 10.0
    with RunClock(path, every=0, now=lambda: t[0]) as second:
        t[0] = 16.0
    got = second.totals()
    assert (got["wall_s"], got["processes"], got["lost_records"]) == (10.0, 2, 1)


def test_a_killed_process_keeps_its_last_tick_and_the_next_adds_to_it(tmp_path) -> None:
    """Process 1 starts at t = 0, ticks at t = 7 and is killed (no exit): 7 s kept. Process 2
    runs from t = 100 to t = 105: 5 s. The run: 7 + 5 = 12 s over 2 processes; the 93 s
    between them do not count."""
    path, t = tmp_path / "wall.json", [0.0]
    first = RunClock(path, every=0, now=lambda: t[0]).__enter__()
    t[0] = 7.0
    first.tick()  # what the thread does; then the process dies
    t[0] = 100.0
    with RunClock(path, every=0, now=lambda: t[0]) as second:
        t[0] = 105.0
    assert second.totals()["wall_s"] == 12.0 and second.totals()["processes"] == 2
    assert [p["seconds"] for p in json.loads(path.read_text())] == [7.0, 5.0]
    assert second.totals()["peak_rss_mb"] > 0


def test_the_thread_writes_while_the_run_works_and_a_disabled_clock_writes_nothing(
        tmp_path) -> None:
    import time
    path = tmp_path / "wall.json"
    with RunClock(path, every=0.01):
        time.sleep(0.1)
        assert json.loads(path.read_text())[0]["seconds"] > 0  # written before the exit
    with RunClock(tmp_path / "other.json", enabled=False) as clock:
        pass
    assert not (tmp_path / "other.json").exists() and clock.totals()["processes"] == 1


def test_train_seconds_adds_the_processes_of_old_files_and_reads_new_ones_whole() -> None:
    """Old files restart elapsed_s in each process: 10, 20 | 5, 15 -> 20 + 15 = 35.
    New files run on across a resume: 10, 20, 25 -> 25. Rows without a time are skipped."""
    old = [{"elapsed_s": 10.0}, {"elapsed_s": 20.0}, {"elapsed_s": 5.0}, {"elapsed_s": 15.0}]
    assert train_seconds(old) == 35.0
    assert train_seconds([{"elapsed_s": 10.0}, {"elapsed_s": None}, {"elapsed_s": 20.0},
                          {"elapsed_s": 25.0}]) == 25.0
    assert train_seconds([]) == 0.0


def _resume(path, logged: list[tuple[int, float]], at: int) -> list[dict]:
    """metrics.jsonl holds ``logged`` (step, elapsed_s) rows; a process resumes from
    checkpoint-``at`` and logs step at + 5: the rows then."""
    path.write_text("".join(json.dumps({"step": s, "elapsed_s": e}) + "\n" for s, e in logged))
    cb = MetricsCallback(path)
    state = SimpleNamespace(global_step=at, num_input_tokens_seen=0, is_world_process_zero=True,
                            epoch=0.5)
    cb.on_train_begin(None, state, None)
    state.global_step = at + 5
    cb.on_log(None, state, None, logs={"loss": 1.0})
    return read_metrics(path)


def test_a_resumed_metrics_clock_goes_on_from_the_kept_steps(tmp_path) -> None:
    """A run kept steps 5 and 10 (20 s) and logged step 15 before it was killed; resumed from
    checkpoint-10, its next row's elapsed_s is at least 20 (the kept steps' time), not this
    process's few milliseconds, and the step-15 row is gone."""
    rows = _resume(tmp_path / "metrics.jsonl", [(5, 10.0), (10, 20.0), (15, 30.0)], at=10)
    assert [r["step"] for r in rows] == [5, 10, 15]
    assert 20.0 <= rows[-1]["elapsed_s"] < 25.0 and train_seconds(rows) == rows[-1]["elapsed_s"]


def test_a_resumed_clock_on_a_file_of_restarting_processes_counts_each_once(tmp_path) -> None:
    """A file from before the clock ran on: processes of 20 s (10, 20) and 15 s (5, 15). The
    resumed process goes on from the last row (15), so its first row reads 15 + a little and
    the run's training time is 20 + 15 + a little, not 20 + 35 (its total counted again)."""
    rows = _resume(tmp_path / "metrics.jsonl", [(5, 10.0), (10, 20.0), (15, 5.0), (20, 15.0)],
                   at=20)
    assert 15.0 <= rows[-1]["elapsed_s"] < 20.0
    assert 35.0 <= train_seconds(rows) < 40.0
