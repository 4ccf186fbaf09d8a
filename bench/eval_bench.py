"""Evaluation benchmark: EX over Spider dev with realistic wrong predictions, fast path
(1 and 2 workers, cold and warm gold cache) vs a plainly written single-process reference loop
with the same semantics, run in the same process. Writes bench/results/eval_bench.json.

Predictions are gold queries perturbed on their sqlglot AST (a copy), in rotation: unchanged,
changed literal, dropped condition, swapped column, flipped ORDER BY direction, broken syntax.

    python bench/eval_bench.py
"""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from itertools import permutations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

KINDS = ["gold", "literal", "drop_condition", "swap_column", "flip_order", "broken_syntax"]


def _literal(tree: exp.Expression, schema) -> exp.Expression | None:
    lit = next((l for l in tree.find_all(exp.Literal)), None)
    if lit is None:
        return None
    new = exp.Literal.number(str(float(lit.this) + 1)) if lit.is_number else exp.Literal.string(lit.this + "x")
    lit.replace(new)
    return tree


def _drop_condition(tree: exp.Expression, schema) -> exp.Expression | None:
    where = tree.args.get("where")
    if where is None:
        return None
    if isinstance(where.this, exp.Connector):
        where.this.replace(where.this.left)
    else:
        where.pop()
    return tree


def _swap_column(tree: exp.Expression, schema) -> exp.Expression | None:
    if not isinstance(tree, exp.Select):
        return None
    col = next((c for e in tree.expressions for c in e.find_all(exp.Column)), None)
    if col is None or schema is None:
        return None
    table = tree.args["from_"].this if tree.args.get("from_") else None
    t = schema.table(table.name) if isinstance(table, exp.Table) else None
    others = [c.name for c in (t.columns if t else []) if c.name.lower() != col.name.lower()]
    if not others:
        return None
    col.set("this", exp.to_identifier(others[0], quoted=True))
    return tree


def _flip_order(tree: exp.Expression, schema) -> exp.Expression | None:
    order = tree.args.get("order")
    if order is None:
        return None
    for o in order.expressions:
        o.set("desc", not o.args.get("desc"))
    return tree


def perturb(sql: str, kind: str, schema) -> str | None:
    if kind == "gold":
        return sql
    if kind == "broken_syntax":  # drop the token after the first FROM: "... FROM WHERE ..."
        tokens = sqlglot.tokenize(sql, read="sqlite")
        i = next((i for i, t in enumerate(tokens) if t.text.upper() == "FROM"), None)
        if i is None or i + 1 >= len(tokens):
            return None
        return sql[:tokens[i + 1].start] + sql[tokens[i + 1].end + 1:]
    tree = sqlglot.parse_one(sql, read="sqlite").copy()
    fn = {"literal": _literal, "drop_condition": _drop_condition, "swap_column": _swap_column,
          "flip_order": _flip_order}[kind]
    out = fn(tree, schema)
    return out.sql("sqlite") if out is not None else None


def predictions(examples, schemas) -> tuple[dict[str, str], Counter]:
    preds, kinds = {}, Counter()
    for i, ex in enumerate(examples):
        # the kind in rotation, else the other AST edits, broken syntax last
        first = KINDS[i % len(KINDS)]
        for kind in [first] + [k for k in KINDS[1:-1] if k != first] + ["broken_syntax"]:
            sql = perturb(ex.sql, kind, schemas.get(ex.db_id))
            if sql is not None:
                preds[ex.id], _ = sql, kinds.update([kind])
                break
    return preds, kinds


# ---- the reference: one process, a fresh connection per query, brute-force comparison ----

def _ref_exec(db: Path, sql: str, timeout: float):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode("utf-8", errors="replace")
    deadline = time.perf_counter() + timeout
    con.set_progress_handler(lambda: int(time.perf_counter() > deadline), 1000)
    try:
        return con.execute(sql).fetchall()
    except (sqlite3.Error, sqlite3.Warning):
        return None
    finally:
        con.close()


def _ref_norm(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        if v != v:
            return "NaN"
        return int(v) if v.is_integer() else round(v, 6)
    return v


def _ref_equal(gold, pred, ordered: bool) -> bool:
    if not gold and not pred:
        return True
    if len(gold) != len(pred) or len(gold[0]) != len(pred[0]):
        return False
    g = [tuple(_ref_norm(c) for c in r) for r in gold]
    p = [tuple(_ref_norm(c) for c in r) for r in pred]
    for perm in permutations(range(len(g[0]))):
        moved = [tuple(r[j] for j in perm) for r in p]
        if (moved == g) if ordered else (Counter(moved) == Counter(g)):
            return True
    return False


def reference(examples, preds, db_paths, timeout: float) -> dict[str, bool]:
    from alignsql.eval.compare import order_matters
    out = {}
    for ex in examples:
        gold = _ref_exec(db_paths[ex.db_id], ex.sql, timeout)
        pred = _ref_exec(db_paths[ex.db_id], preds[ex.id], timeout)
        out[ex.id] = pred is not None and gold is not None and _ref_equal(
            gold, pred, order_matters(ex.sql))
    return out


def main() -> None:
    from alignsql.data import registry
    from alignsql.eval.evaluate import EvalOptions, evaluate

    ds = registry.load("spider:dev")
    examples = [e for e in ds.examples if ds.db_path(e.db_id)]
    db_paths = {d: ds.db_path(d) for d in {e.db_id for e in examples}}
    preds, kinds = predictions(examples, ds.schemas)
    opts = EvalOptions(timeout=30.0)
    runs = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ["ALIGNSQL_HOME"] = home
        for label, workers in (("2_workers_cold", 2), ("2_workers_warm", 2),
                               ("1_worker_warm", 1)):
            start = time.perf_counter()
            results, summary = evaluate(examples, preds, db_paths, opts, workers=workers)
            runs[label] = {"seconds": time.perf_counter() - start, "ex": summary.ex,
                           "n_scored": summary.n_scored}
            import alignsql.eval.evaluate as ev
            if label == "2_workers_cold":
                ev._GOLD.clear()  # the warm runs must read the on-disk cache, not memory
    start = time.perf_counter()
    ref = reference(examples, preds, db_paths, timeout=30.0)
    ref_s = time.perf_counter() - start
    fast = {r.id: r.status == "correct" for r in results}
    agree = sum(fast[i] == ref[i] for i in ref) / len(ref)
    out = {
        "n_scored": runs["2_workers_cold"]["n_scored"],
        "seconds_2_workers": runs["2_workers_cold"]["seconds"],
        "seconds_2_workers_warm_gold": runs["2_workers_warm"]["seconds"],
        "seconds_1_worker_warm_gold": runs["1_worker_warm"]["seconds"],
        "seconds_baseline": ref_s, "speedup": ref_s / runs["2_workers_cold"]["seconds"],
        "verdicts_correct": agree, "ex": runs["2_workers_cold"]["ex"],
        "ex_reference": sum(ref.values()) / len(ref), "perturbations": dict(kinds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg": os.getloadavg()},
        "command": "python bench/eval_bench.py",
    }
    path = ROOT / "bench" / "results" / "eval_bench.json"
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
