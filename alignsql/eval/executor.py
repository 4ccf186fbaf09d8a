"""Safe, interruptible, read-only SQL execution against SQLite files.

Guards, outermost first: the file is opened read-only (``mode=ro`` URI) and ``PRAGMA
query_only`` is on; an authorizer allows only reads, selects, functions (not
``load_extension``) and recursive CTEs, so writes, DDL, ATTACH, PRAGMA and transactions are
denied before they run; extension loading stays disabled; a progress handler interrupts the
running statement at the deadline (Spider's evaluator wraps a blocking call in a timeout that
cannot stop it, test-suite-sql-eval #26); rows returned are capped; SQLite's heap is capped.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SYNTAX, SCHEMA, TIMEOUT, DENIED, RUNTIME, EMPTY = (
    "syntax", "schema", "timeout", "denied", "runtime", "empty")

_ALLOWED_ACTIONS = {sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
HEAP_LIMIT = 512 * 1024 * 1024  # bytes SQLite may allocate per process (sorts, huge joins)


@dataclass
class ExecResult:
    rows: list[tuple] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error: str | None = None
    """None on success, else one of: syntax, schema, timeout, denied, runtime, empty."""
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


def open_readonly(path: str | Path) -> sqlite3.Connection:
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    con.text_factory = _decode
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
    if "syntax error" in msg or "incomplete input" in msg or "unrecognized token" in msg:
        return SYNTAX
    if "no such table" in msg or "no such column" in msg or "ambiguous column" in msg \
            or "no such function" in msg:
        return SCHEMA
    return RUNTIME


def execute(db: str | Path, sql: str, timeout_s: float = 10.0, max_rows: int = 100_000) -> ExecResult:
    """Run one statement; never raises for a bad query (the error is categorized)."""
    if not sql or not sql.strip():
        return ExecResult(error=EMPTY, message="empty SQL")
    con = connection(db)
    deadline = time.perf_counter() + timeout_s
    con.set_progress_handler(lambda: int(time.perf_counter() > deadline), 1000)
    start = time.perf_counter()
    try:
        cur = con.execute(sql)
        rows = cur.fetchmany(max_rows + 1)
        columns = [d[0] for d in cur.description or []]
        cur.close()
    except (sqlite3.Error, sqlite3.Warning, OverflowError, ValueError, MemoryError) as exc:
        elapsed = time.perf_counter() - start
        category = TIMEOUT if time.perf_counter() > deadline else categorize(str(exc))
        return ExecResult(error=category, message=str(exc)[:300], elapsed=elapsed)
    finally:
        con.set_progress_handler(None, 0)
    truncated = len(rows) > max_rows
    return ExecResult(rows[:max_rows], columns, elapsed=time.perf_counter() - start,
                      truncated=truncated)
