"""``alignsql eval --compare A B``: two systems on the same questions, paired.

A and B are either predictions (scored here on ``--dataset``) or the ``results.jsonl`` of an
earlier ``alignsql eval --out``. Only questions of ``--dataset`` scored in both are compared
(the rest are counted): results of all of Spider dev compared with ``--dataset
spider:dev@test`` are compared on the test part only. Output: EX of each, the difference with
a paired bootstrap 95% interval, the exact McNemar p-value (alignsql.eval.significance), EX by
hardness side by side, and the questions that flipped each way with both SQL and the first
rows of each result.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from alignsql.data import registry
from alignsql.errors import AlignSQLError
from alignsql.eval.evaluate import CORRECT, ExampleResult
from alignsql.eval.significance import paired_comparison

HARDNESS_ORDER = ("easy", "medium", "hard", "extra")
SHOWN = 50
"""Flipped questions shown in the report, each way."""


def _is_results(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(rec, dict) and "status" in rec and "gold_sql" in rec


def scored(path: str, cfg) -> dict[str, ExampleResult]:
    """Per-question results of one system: read from an eval's results.jsonl, or scored now."""
    from alignsql.eval.run import run_eval
    p = Path(path)
    if not p.is_file():
        raise AlignSQLError(f"--compare: {path}: file not found")
    if _is_results(p):
        out = {}
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            try:
                rec = ExampleResult(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                raise AlignSQLError(f"--compare: {path}: line {n} is not an eval result") from None
            out[rec.id] = rec
        return out
    results, _ = run_eval(replace(cfg, preds=path, compare=[], out=None))
    return {r.id: r for r in results}


def _by_hardness(ids: Sequence[str], a: dict, b: dict) -> dict:
    levels = sorted({a[i].hardness for i in ids if a[i].hardness},
                    key=lambda h: (HARDNESS_ORDER.index(h) if h in HARDNESS_ORDER else 99, h))
    out = {}
    for level in levels:
        sub = [i for i in ids if a[i].hardness == level]
        out[level] = {"n": len(sub), "ex_a": sum(a[i].status == CORRECT for i in sub) / len(sub),
                      "ex_b": sum(b[i].status == CORRECT for i in sub) / len(sub)}
    return out


def _preview(db: Path | None, sql: str | None, rows: int = 5) -> str:
    """The first rows of a query's result (read-only executor), for the flipped list."""
    from alignsql.eval.executor import execute
    if not db or not sql:
        return ""
    res = execute(db, sql, timeout_s=5.0, max_rows=rows)
    return f"error: {res.error}" if res.error else repr(res.rows[:rows])[:300]


def _flipped(ids: Sequence[str], a: dict, b: dict, ds, want_a: bool) -> list[dict]:
    questions = {e.id: e for e in ds.examples}
    out = []
    for i in ids:
        if (a[i].status == CORRECT) != want_a or (b[i].status == CORRECT) == want_a:
            continue
        ex = questions.get(i)
        db = ds.db_path(a[i].db_id)
        row = {"id": i, "db_id": a[i].db_id, "question": ex.question if ex else "",
               "gold": a[i].gold_sql, "sql_a": a[i].pred_sql, "sql_b": b[i].pred_sql}
        if len(out) < SHOWN:
            row.update(gold_rows=_preview(db, a[i].gold_sql), rows_a=_preview(db, a[i].pred_sql),
                       rows_b=_preview(db, b[i].pred_sql))
        out.append(row)
    return out


def compare(cfg) -> dict:
    """The paired comparison of ``cfg.compare = [A, B]`` on ``cfg.dataset``."""
    if len(cfg.compare) != 2:
        raise AlignSQLError(f"--compare takes two files (A and B), got {len(cfg.compare)}")
    a, b = (scored(p, cfg) for p in cfg.compare)
    ds = registry.load(cfg.dataset, cfg.data_root)
    mine = {e.id for e in ds.examples}
    ids = [i for i in a if i in b and i in mine and a[i].scored and b[i].scored]
    if not ids:
        raise AlignSQLError(f"--compare: no question of {cfg.dataset} is scored in both files")
    stats = paired_comparison([a[i].status == CORRECT for i in ids],
                              [b[i].status == CORRECT for i in ids], cfg.n_boot, cfg.seed)
    return {"a": cfg.compare[0], "b": cfg.compare[1], "dataset": cfg.dataset, **stats,
            "not_compared": {"only_in_a": len(set(a) - set(b)), "only_in_b": len(set(b) - set(a)),
                             "not_in_dataset": sum(1 for i in a if i in b and i not in mine),
                             "not_scored": sum(1 for i in a if i in b and i in mine
                                               and i not in ids)},
            "by_hardness": _by_hardness(ids, a, b),
            "a_right_b_wrong": _flipped(ids, a, b, ds, want_a=True),
            "b_right_a_wrong": _flipped(ids, a, b, ds, want_a=False)}


def write(result: dict, out: Path) -> None:
    from alignsql.eval.render import compare_html, compare_markdown
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    (out / "compare.md").write_text(compare_markdown(result), errors="replace")
    (out / "compare.html").write_text(compare_html(result), errors="replace")
