import hashlib
import time
from pathlib import Path

import pytest

from alignsql.eval.executor import execute

HOSTILE = Path(__file__).parent.parent / "fixtures" / "hostile.sql"


def _hostile() -> list[tuple[str, str]]:
    cases, expect = [], None
    for line in HOSTILE.read_text().splitlines():
        if line.startswith("-- expect:"):
            expect = line.split(":", 1)[1].strip()
        elif line.strip() and not line.startswith("--"):
            cases.append((expect, line))
    return cases


def test_hostile_corpus_is_complete() -> None:
    kinds = {e for e, _ in _hostile()}
    assert len(_hostile()) >= 15 and kinds == {"denied", "timeout", "ok-truncated"}


@pytest.mark.parametrize("expect,sql", _hostile())
def test_hostile_sql_is_stopped_and_db_unchanged(db, expect: str, sql: str) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    timeout = 0.5
    start = time.perf_counter()
    res = execute(db, sql, timeout_s=timeout, max_rows=1000)
    took = time.perf_counter() - start
    assert took <= timeout + 0.5
    if expect == "ok-truncated":
        assert res.ok and res.truncated and len(res.rows) == 1000
    else:
        assert res.error == expect, res.message
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not Path("/tmp/alignsql_evil.db").exists() and not Path("/tmp/alignsql_copy.db").exists()


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
