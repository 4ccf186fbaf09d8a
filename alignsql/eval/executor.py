"""Safe, interruptible, read-only SQL execution against SQLite files.

Model-written SQL is hostile until proven otherwise. Guards, outermost first:

- the file is opened ``immutable`` (no lock, no ``-wal``/``-shm``/``-journal`` file is ever
  created beside it); a database with a hot journal or an unmerged write-ahead log is refused
  with a one-line error instead, since reading it immutably would see a half-written state;
- ``PRAGMA query_only`` and an authorizer that allows only reads, selects, functions (not
  ``load_extension`` and friends) and recursive CTEs: writes, DDL, ATTACH, PRAGMA and
  transactions are denied before they run;
- size limits: SQL text over ``MAX_SQL_BYTES`` is not run; no value may exceed
  ``MAX_VALUE_BYTES`` (``SQLITE_LIMIT_LENGTH``: ``zeroblob(4.5e8)``, ``randomblob``,
  ``printf('%.*c')`` and doubling CTEs fail at once instead of building gigabytes); SQLite's
  heap is capped; rows are fetched against a row cap *and* a byte budget (``too_large``);
- time: a progress handler checks the deadline every ``PROGRESS_OPCODES`` opcodes, and a
  watchdog thread calls ``interrupt()`` at the deadline whatever the opcode (Spider's
  evaluator wraps a blocking call in a timeout that cannot stop it, test-suite-sql-eval #26).
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignsql.errors import AlignSQLError

SYNTAX, SCHEMA, TIMEOUT, DENIED, RUNTIME, EMPTY, TOO_LARGE = (
    "syntax", "schema", "timeout", "denied", "runtime", "empty", "too_large")

_ALLOWED_ACTIONS = {sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
HEAP_LIMIT = 512 * 1024 * 1024  # bytes SQLite may allocate per process (sorts, huge joins)
MAX_VALUE_BYTES = 8 * 1024 * 1024  # longest string or blob any expression may build
MAX_SQL_BYTES = 100_000  # longer SQL is not run (nor parsed by the evaluator)
MAX_RESULT_BYTES = 64 * 1024 * 1024  # default byte budget of one result set
PROGRESS_OPCODES = 1000  # the watchdog and the helper's kill cover what falls between checks
_LIMITS = {sqlite3.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
           sqlite3.SQLITE_LIMIT_SQL_LENGTH: MAX_SQL_BYTES,
           sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 500,
           sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 10_000,
           sqlite3.SQLITE_LIMIT_ATTACHED: 0}
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


@dataclass
class ExecResult:
    rows: list[tuple] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error: str | None = None
    """None on success, else: syntax, schema, timeout, denied, runtime, empty, too_large."""
    message: str = ""
    elapsed: float = 0.0
    truncated: bool = False
    """True when more than ``max_rows`` rows were produced and the rest were dropped."""

    @property
    def ok(self) -> bool:
        return self.error is None


def _authorizer(action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _decode(raw: bytes) -> str:
    # Spider databases hold some non-UTF-8 text; never fail a query on decoding.
    return raw.decode("utf-8", errors="replace")


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def check_state(path: Path) -> None:
    """Refuse a database whose committed state is not in the file alone."""
    journal = Path(f"{path}-journal")
    if _nonempty(journal):
        with open(journal, "rb") as fh:
            if fh.read(8) == _JOURNAL_MAGIC:
                raise AlignSQLError(
                    f"{path}: has a hot journal ({journal.name}, an interrupted write); open it "
                    f"once with the sqlite3 shell, which rolls the write back, then retry")
    if _nonempty(Path(f"{path}-wal")):
        raise AlignSQLError(
            f"{path}: has unmerged changes in {path.name}-wal; checkpoint it (sqlite3 "
            f"{path.name} 'PRAGMA wal_checkpoint(TRUNCATE)') or copy the database, then retry")


def open_readonly(path: str | Path) -> sqlite3.Connection:
    path = Path(path).resolve()
    check_state(path)
    uri = path.as_uri() + "?mode=ro&immutable=1"
    con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    con.text_factory = _decode
    for limit, value in _LIMITS.items():
        con.setlimit(limit, value)
    con.execute("PRAGMA query_only = ON")
    con.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT}")
    con.set_authorizer(_authorizer)  # last: from here on even PRAGMA is denied
    return con


_LOCAL = threading.local()


def connection(path: str | Path) -> sqlite3.Connection:
    """One cached read-only connection per database per thread (and so per process). Never
    shared between threads: a query's progress handler is Python code that needs the GIL
    while SQLite holds the connection's mutex, so a second thread calling into the same
    connection while holding the GIL would deadlock them both (seen with a threaded server)."""
    key = str(Path(path).resolve())
    cache = _LOCAL.__dict__.setdefault("connections", {})
    con = cache.get(key)
    if con is None:
        if not Path(key).is_file():
            raise FileNotFoundError(key)
        con = cache[key] = open_readonly(key)
    return con


def categorize(message: str) -> str:
    msg = message.lower()
    if "not authorized" in msg or "authorization denied" in msg or "prohibited" in msg \
            or "one statement at a time" in msg \
            or "readonly" in msg or "read-only" in msg:
        return DENIED
    if "interrupted" in msg:
        return TIMEOUT
    if "too big" in msg or "out of memory" in msg or "too many" in msg or "too long" in msg \
            or "stack overflow" in msg or "too deep" in msg:
        return TOO_LARGE
    if "syntax error" in msg or "incomplete input" in msg or "unrecognized token" in msg:
        return SYNTAX
    if "no such table" in msg or "no such column" in msg or "ambiguous column" in msg \
            or "no such function" in msg:
        return SCHEMA
    return RUNTIME


class _Watchdog:
    """Interrupts the armed statement at its deadline from a thread of its own, even when the
    progress handler cannot run. One long-lived thread per calling thread (a timer thread per
    query cost 0.2 ms). ``disarm`` under the lock before the connection is reused, so a late
    wake-up never interrupts the next statement (and SQLite clears an interrupt once no
    statement is active)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._con: sqlite3.Connection | None = None
        self._deadline = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    def arm(self, con: sqlite3.Connection, deadline: float) -> None:
        with self._cond:
            self._con, self._deadline = con, deadline
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._con = None

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._con is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.perf_counter()
                if remaining <= 0:
                    self._con.interrupt()
                    self._con = None
                else:
                    self._cond.wait(remaining)


def _watchdog() -> _Watchdog:
    dog = getattr(_LOCAL, "watchdog", None)
    if dog is None:
        dog = _LOCAL.watchdog = _Watchdog()
    return dog


def _cell_bytes(cell: Any) -> int:
    return len(cell) if isinstance(cell, (str, bytes)) else 16


class _TooLarge(Exception):
    pass


def _fetch(cur: sqlite3.Cursor, max_rows: int, max_bytes: int) -> list[tuple]:
    """Up to ``max_rows + 1`` rows (the extra one says "truncated"), within ``max_bytes``."""
    rows: list[tuple] = []
    used = 0
    while len(rows) <= max_rows:
        batch = cur.fetchmany(min(256, max_rows + 1 - len(rows)))
        if not batch:
            break
        used += sum(_cell_bytes(c) for r in batch for c in r) + 56 * len(batch)
        if used > max_bytes:
            raise _TooLarge(f"result over the {max_bytes:,}-byte budget")
        rows.extend(batch)
    return rows


def _precheck(sql: str) -> ExecResult | None:
    if not sql or not sql.strip():
        return ExecResult(error=EMPTY, message="empty SQL")
    if len(sql.encode("utf-8", "surrogatepass")) > MAX_SQL_BYTES:
        return ExecResult(error=TOO_LARGE, message=f"SQL over {MAX_SQL_BYTES:,} bytes")
    return None


def execute(db: str | Path, sql: str, timeout_s: float = 10.0, max_rows: int = 100_000,
            max_bytes: int = MAX_RESULT_BYTES) -> ExecResult:
    """Run one statement in this thread's sandbox process (``alignsql.eval.sandbox``), which
    is killed if it overruns the deadline; never raises for a bad query (the error is
    categorized). Raises AlignSQLError for a database in an unreadable state."""
    early = _precheck(sql)
    if early is not None:
        return early
    from alignsql.eval import sandbox
    if not Path(db).is_file():
        raise FileNotFoundError(str(db))
    res = sandbox.current().run((str(db), sql, timeout_s, max_rows, max_bytes), timeout_s)
    if res == sandbox.KILLED:
        return ExecResult(error=TIMEOUT, message="stopped at the deadline (helper killed)",
                          elapsed=timeout_s)
    if res == sandbox.DIED:
        return ExecResult(error=TOO_LARGE, message="the query's process ran out of memory")
    return res


def run_here(db: str | Path, sql: str, timeout_s: float = 10.0, max_rows: int = 100_000,
             max_bytes: int = MAX_RESULT_BYTES) -> ExecResult:
    """``execute`` in this process: every guard but the kill (see the module docstring)."""
    early = _precheck(sql)
    if early is not None:
        return early
    con = connection(db)
    deadline = time.perf_counter() + timeout_s
    con.set_progress_handler(lambda: int(time.perf_counter() > deadline), PROGRESS_OPCODES)
    dog = _watchdog()
    dog.arm(con, deadline)
    start = time.perf_counter()
    cur = None
    try:
        cur = con.execute(sql)
        rows = _fetch(cur, max_rows, max_bytes)
        columns = [d[0] for d in cur.description or []]
    except _TooLarge as exc:
        return ExecResult(error=TOO_LARGE, message=str(exc), elapsed=time.perf_counter() - start)
    except (sqlite3.Error, sqlite3.Warning, OverflowError, ValueError, MemoryError,
            UnicodeError) as exc:
        elapsed = time.perf_counter() - start
        category = TIMEOUT if time.perf_counter() > deadline else categorize(str(exc))
        return ExecResult(error=category, message=str(exc)[:300], elapsed=elapsed)
    finally:
        dog.disarm()
        if cur is not None:
            cur.close()  # reset the statement: no read left open on the connection
        con.set_progress_handler(None, 0)
    truncated = len(rows) > max_rows
    return ExecResult(rows[:max_rows], columns, elapsed=time.perf_counter() - start,
                      truncated=truncated)
