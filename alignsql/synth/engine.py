"""Synthesis with an execution filter: sample templates, fill them on the database, keep the
queries that run within the timeout and return a non-empty, non-degenerate result, and drop
duplicates (same SQL, or same structure and same result). Counts every reason a candidate is
dropped; attempts are capped."""
from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlglot
from sqlglot import exp

from alignsql.data.example import Schema
from alignsql.eval.executor import execute
from alignsql.synth.fill import FillError, fill
from alignsql.synth.pool import TemplatePool, sample

FILTERS = ("filled", "executed", "non_empty", "non_degenerate", "unique")


@dataclass
class Synthesis:
    kept: list[dict] = field(default_factory=list)
    attempts: int = 0
    passed: Counter = field(default_factory=Counter)
    """How many candidates passed each filter, in FILTERS order."""
    dropped: Counter = field(default_factory=Counter)
    """Why candidates were dropped."""

    def acceptance(self) -> dict[str, float]:
        """Share of the candidates reaching a filter that pass it."""
        out, before = {}, self.attempts
        for name in FILTERS:
            out[name] = self.passed[name] / before if before else 0.0
            before = self.passed[name]
        return out


def _result_key(rows: list[tuple]) -> str:
    return hashlib.sha1(repr(sorted(map(repr, rows))).encode()).hexdigest()


def _degenerate(sql: str, rows: list[tuple], db: Path) -> str | None:
    """All NULL, or a filtered query that returns its whole first table."""
    if all(v is None for r in rows for v in r):
        return "all NULL"
    tree = sqlglot.parse_one(sql, read="sqlite")
    first = next(tree.find_all(exp.Table), None)
    if tree.args.get("where") is not None and first is not None and len(rows) > 1:
        name = exp.to_identifier(first.name, quoted=True).sql("sqlite")
        total = execute(db, f"SELECT count(*) FROM {name}", timeout_s=2.0)
        if total.ok and total.rows and total.rows[0][0] == len(rows):
            return "filter keeps the whole table"
    return None


def synthesize(pool: TemplatePool, w: np.ndarray, schema: Schema, db: Path, n: int,
               rng: random.Random, max_attempts: int | None = None, timeout: float = 5.0,
               round_: int = 0) -> Synthesis:
    """Up to ``n`` verified queries; stops after ``max_attempts`` (default 20 n) candidates."""
    out = Synthesis()
    seen_sql: set[str] = set()
    seen_result: set[tuple[str, str]] = set()
    cap = max_attempts or 20 * n
    while len(out.kept) < n and out.attempts < cap:
        batch = sample(pool, w, min(64, cap - out.attempts), rng)
        for idx in batch:
            if len(out.kept) >= n:
                break
            out.attempts += 1
            _one(pool.templates[idx], idx, schema, db, rng, timeout, out, seen_sql, seen_result,
                 round_)
    return out


def _one(tt, idx, schema, db, rng, timeout, out: Synthesis, seen_sql, seen_result, round_) -> None:
    try:
        sql = fill(tt, schema, db, rng)
    except FillError as exc:
        out.dropped[f"fill: {exc.reason}"] += 1
        return
    out.passed["filled"] += 1
    res = execute(db, sql, timeout_s=timeout, max_rows=10_000)
    if not res.ok:
        out.dropped[f"execution: {res.error}"] += 1
        return
    out.passed["executed"] += 1
    if not res.rows:
        out.dropped["empty result"] += 1
        return
    out.passed["non_empty"] += 1
    why = _degenerate(sql, res.rows, db)
    if why:
        out.dropped[why] += 1
        return
    out.passed["non_degenerate"] += 1
    norm = sqlglot.parse_one(sql, read="sqlite").sql("sqlite", normalize=True)
    key = (" ".join(tt.structural), _result_key(res.rows))
    if norm in seen_sql or key in seen_result:
        out.dropped["duplicate"] += 1
        return
    seen_sql.add(norm)
    seen_result.add(key)
    out.passed["unique"] += 1
    out.kept.append({"sql": sql, "template_id": idx, "template": tt.key, "round": round_,
                     "rows": len(res.rows), "checks": list(FILTERS)})
