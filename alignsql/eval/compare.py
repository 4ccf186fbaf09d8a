"""Result comparison for execution accuracy: a pure function on two result sets.

Semantics follow test-suite-sql-eval's ``result_eq`` (Zhong, Yu, Klein 2020): two results
match when some permutation of the predicted columns makes the rows equal as a multiset
(bag), or as a list when the gold query orders its output. Before trying permutations a
cheap rejection compares each row's sorted cells. On top of that, cells are normalised:
integers and integral floats compare equal (1 == 1.0), other floats are compared after
rounding to ``float_digits`` decimals, NULL equals only NULL, and -0.0 equals 0.
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import product
from typing import Any, Sequence

import sqlglot

Row = Sequence[Any]
FLOAT_DIGITS = 6
MAX_PERMUTATIONS = 5040  # column orders tried at most (7! = 5040)


def normalize(value: Any, float_digits: int = FLOAT_DIGITS) -> Any:
    """A hashable, comparison-ready form of one cell (see the module docstring)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return value
        if value.is_integer():
            return int(value)
        return round(value, float_digits)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return value


def _key(cell: Any) -> tuple[str, str]:
    return (type(cell).__name__, repr(cell))


def _norm_rows(rows: Sequence[Row], digits: int) -> list[tuple]:
    return [tuple(normalize(c, digits) for c in r) for r in rows]


def _quick_reject(gold: list[tuple], pred: list[tuple], order_matters: bool) -> bool:
    """Rows compared as sorted cell lists; a mismatch rules out every column permutation."""
    g = [tuple(sorted(r, key=_key)) for r in gold]
    p = [tuple(sorted(r, key=_key)) for r in pred]
    return g != p if order_matters else Counter(g) != Counter(p)


def _candidate_permutations(gold: list[tuple], pred: list[tuple], width: int):
    """Column maps perm[i] = which pred column plays gold column i, pruned by value sets."""
    gold_cols = [Counter(r[i] for r in gold) for i in range(width)]
    pred_cols = [Counter(r[j] for r in pred) for j in range(width)]
    options = [[j for j in range(width) if pred_cols[j] == gold_cols[i]] for i in range(width)]
    if any(not o for o in options):
        return
    tried = 0
    for perm in product(*options):
        if len(set(perm)) == width:
            yield perm
            tried += 1
            if tried >= MAX_PERMUTATIONS:  # identical columns: any more orders are redundant
                return


def results_match(gold: Sequence[Row], pred: Sequence[Row], order_matters: bool = False,
                  float_digits: int = FLOAT_DIGITS) -> bool:
    """True when ``pred`` equals ``gold`` up to column order (see the module docstring)."""
    if len(gold) == 0 and len(pred) == 0:
        return True
    if len(gold) != len(pred):
        return False
    g, p = _norm_rows(gold, float_digits), _norm_rows(pred, float_digits)
    width = len(g[0])
    if any(len(r) != width for r in g) or any(len(r) != width for r in p):
        return False
    if _quick_reject(g, p, order_matters):
        return False
    g_bag = g if order_matters else Counter(g)
    for perm in _candidate_permutations(g, p, width):
        moved = [tuple(r[j] for j in perm) for r in p]
        if (moved == g) if order_matters else (Counter(moved) == g_bag):
            return True
    return False


def order_matters(gold_sql: str, dialect: str = "sqlite") -> bool:
    """True when the gold query's outermost statement has ORDER BY (decided on the AST, not
    by searching the text, so an ORDER BY inside a subquery does not count)."""
    try:
        tree = sqlglot.parse_one(gold_sql, read=dialect)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return False
    return tree_orders(tree)


def tree_orders(tree: object) -> bool:
    """``order_matters`` on an already parsed query."""
    return bool(tree is not None and getattr(tree, "args", {}).get("order"))
