"""Result comparison for execution accuracy: a pure function on two result sets.

Semantics follow test-suite-sql-eval's ``result_eq`` (Zhong, Yu, Klein 2020): two results
match when some permutation of the predicted columns makes the rows equal as a multiset
(bag), or as a list when the gold query orders its output. Before searching a cheap
rejection compares each row's sorted cells; the search itself is exact (no cap on the
permutations tried: identical columns are collapsed and partial maps pruned instead). On top
of that, cells are normalised: integers and integral floats compare equal (1 == 1.0), other
floats are compared after rounding to ``float_digits`` decimals, NULL equals only NULL, and
-0.0 equals 0.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

import sqlglot

Row = Sequence[Any]
FLOAT_DIGITS = 6


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


def _column_options(gold_cols: list[tuple], pred_cols: list[tuple]) -> list[list[int]]:
    """For each gold column, the pred columns holding the same multiset of values."""
    bags = [Counter(c) for c in pred_cols]
    gold_bags = [Counter(c) for c in gold_cols]
    return [[j for j, b in enumerate(bags) if b == g] for g in gold_bags]


def _bag_match(gold_cols: list[tuple], pred_cols: list[tuple]) -> bool:
    """Exact search for a column map under which the rows are equal as bags.

    Gold columns are placed one at a time (fewest candidates first); after each placement
    the rows projected on the columns placed so far must already be equal as bags, which
    prunes almost every wrong branch at once. Identical pred columns are interchangeable:
    only one of a set of identical unused columns is tried at each step."""
    options = _column_options(gold_cols, pred_cols)
    if any(not o for o in options):
        return False
    order = sorted(range(len(gold_cols)), key=lambda i: len(options[i]))
    n_rows = len(gold_cols[0])

    def extend(depth: int, used: set[int], g_keys: list[tuple], p_keys: list[tuple]) -> bool:
        if depth == len(order):
            return True
        i = order[depth]
        tried: set[tuple] = set()
        for j in options[i]:
            if j in used or pred_cols[j] in tried:
                continue
            tried.add(pred_cols[j])
            g_next = [g_keys[r] + (gold_cols[i][r],) for r in range(n_rows)]
            p_next = [p_keys[r] + (pred_cols[j][r],) for r in range(n_rows)]
            if Counter(g_next) == Counter(p_next) and extend(depth + 1, used | {j}, g_next,
                                                             p_next):
                return True
        return False

    return extend(0, set(), [()] * n_rows, [()] * n_rows)


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
    gold_cols, pred_cols = list(zip(*g)), list(zip(*p))
    if order_matters:  # rows in order: each gold column must be some pred column verbatim
        return Counter(gold_cols) == Counter(pred_cols)
    return _bag_match(gold_cols, pred_cols)


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
