import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignsql.eval.executor import execute

FIXTURES = Path(__file__).parent.parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from hostile_gen import corpus  # noqa: E402

TIMEOUT = 0.5
PEAK_RSS_MB = 1024  # stated bound for the evaluating process and its query helper


def _hostile() -> list[tuple[str, str, str]]:
    return corpus()


def outcome(res) -> str:
    if res.ok:
        return "ok-truncated" if res.truncated else "ok"
    return res.error


def test_hostile_corpus_is_complete() -> None:
    cases = _hostile()
    kinds = {k for k, _, _ in cases}
    assert len(cases) >= 60
    assert {"writes", "files", "pragmas", "resource bombs", "encodings", "multi-statement",
            "huge SQL"} <= kinds


def _files(db: Path) -> set[str]:
    return {p.name for p in db.parent.iterdir()}


@pytest.mark.parametrize("kind,expect,sql", _hostile(), ids=lambda v: str(v)[:40])
def test_hostile_sql_is_stopped_and_db_unchanged(db, kind: str, expect: str, sql: str) -> None:
    before, files = hashlib.sha256(db.read_bytes()).hexdigest(), _files(db)
    start = time.perf_counter()
    res = execute(db, sql, timeout_s=TIMEOUT, max_rows=1000)
    took = time.perf_counter() - start
    assert took <= TIMEOUT + 0.5
    assert outcome(res) in expect.split("|"), res.message
    if expect == "ok-truncated":
        assert len(res.rows) == 1000
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert _files(db) == files  # no -wal, -shm or -journal beside it
    assert not Path("/tmp/alignsql_evil.db").exists() and not Path("/tmp/alignsql_copy.db").exists()


_PEAK_SCRIPT = """
import json, resource, sys
sys.path[:0] = sys.argv[2:4]
from hostile_gen import corpus
from conftest import build_db
from alignsql.eval import sandbox
from alignsql.eval.executor import execute
db = build_db(__import__("pathlib").Path(sys.argv[1]))
for _, _, sql in corpus():
    execute(db, sql, timeout_s=0.5, max_rows=1000)
sandbox._shutdown()  # reap the helper so RUSAGE_CHILDREN counts it
# VmHWM is this address space's own peak; ru_maxrss of RUSAGE_SELF is not: Linux folds the RSS
# a forked child copied from its parent (here the test runner) into it at exec.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps([hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""


def test_hostile_corpus_peak_memory_in_a_fresh_process(tmp_path) -> None:
    """The whole corpus in a fresh evaluating process: its own peak and its helpers' stay under
    the stated bound. Measured in a new process because a peak is a lifetime maximum, and the
    test runner's own (after loading models in other tests) says nothing about the executor.
    The helper's peak (RUSAGE_CHILDREN) includes what it copied from this small process at fork."""
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(tmp_path / "c.sqlite"),
                          str(FIXTURES), str(Path(__file__).parent)],
                         capture_output=True, text=True, timeout=300, check=True)
    self_kb, children_kb = json.loads(out.stdout.strip().splitlines()[-1])
    assert children_kb > 0  # the helper ran and was counted
    assert self_kb / 1024 < PEAK_RSS_MB and children_kb / 1024 < PEAK_RSS_MB


def test_error_categories(db) -> None:
    assert execute(db, "SELEC name FROM singer").error == "syntax"
    assert execute(db, "SELECT nope FROM singer").error == "schema"
    assert execute(db, "SELECT name FROM nope").error == "schema"
    assert execute(db, "").error == "empty"
    assert execute(db, "SELECT abs(-9223372036854775808)").error == "runtime"


def test_reads_work_and_non_utf8_text_is_decoded(db) -> None:
    res = execute(db, "SELECT name FROM singer ORDER BY singer_id")
    assert res.ok and res.columns == ["name"] and res.rows[0] == ("Ann",)
    assert "\ufffd" in res.rows[-1][0]  # invalid UTF-8 replaced, not an error


def test_recursive_cte_and_window_functions_allowed(db) -> None:
    res = execute(db, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n<5) "
                      "SELECT sum(n) FROM r")
    assert res.rows == [(15,)]
    res = execute(db, "SELECT name, rank() OVER (ORDER BY age) FROM singer LIMIT 1")
    assert res.ok


def test_missing_database_raises(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        execute(tmp_path / "none.sqlite", "SELECT 1")


def test_byte_budget_stops_a_result_before_the_row_cap(db) -> None:
    sql = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 100) "
           "SELECT randomblob(100000) FROM r")
    assert execute(db, sql, max_bytes=1_000_000).error == "too_large"
    assert execute(db, sql, max_bytes=50_000_000).ok


def test_a_wal_database_is_read_without_creating_files(tmp_path) -> None:
    path = tmp_path / "w.sqlite"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE t (a)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()  # the last connection checkpoints and removes -wal and -shm
    assert _files(path) == {"w.sqlite"}
    assert execute(path, "SELECT a FROM t").rows == [(1,)]
    assert _files(path) == {"w.sqlite"}


def test_unmerged_wal_and_hot_journal_are_clear_errors(db) -> None:
    from alignsql.errors import AlignSQLError
    Path(f"{db}-wal").write_bytes(b"x" * 100)
    with pytest.raises(AlignSQLError, match="wal_checkpoint"):
        execute(db, "SELECT 1")
    Path(f"{db}-wal").unlink()
    Path(f"{db}-journal").write_bytes(bytes.fromhex("d9d505f920a163d7") + bytes(600))
    with pytest.raises(AlignSQLError, match="hot journal"):
        execute(db, "SELECT 1")


def test_helper_killed_at_the_deadline_is_replaced(db) -> None:
    from alignsql.eval import sandbox
    stuck = ("SELECT instr(replace(hex(zeroblob(4000000)), '0', 'a'), "
             "replace(hex(zeroblob(1000000)), '0', 'a') || 'b')")
    res = execute(db, stuck, timeout_s=0.3)
    assert res.error == "timeout" and "killed" in res.message
    assert execute(db, "SELECT count(*) FROM singer").rows == [(5,)]
    assert sandbox.current().proc.poll() is None
