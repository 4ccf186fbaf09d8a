"""Spider's hardness levels (easy / medium / hard / extra), re-implemented from the rules of
Spider's published evaluator (Yu et al. 2018, ``evaluation.py``: count_component1,
count_component2, count_others, eval_hardness).

``from_spider_sql`` applies the rules to Spider's own parsed ``sql`` dict (the official
labels, quirks included); ``from_sql`` counts the same components on a sqlglot AST for
datasets that ship no parsed form (agreement with the official labels is tested).
"""
from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

_LIKE = 9  # WHERE_OPS.index("like") in Spider's process_sql
_AGGREGATES = (exp.Count, exp.Max, exp.Min, exp.Sum, exp.Avg)


def level(comp1: int, comp2: int, others: int) -> str:
    """Spider's eval_hardness decision rule."""
    if comp1 <= 1 and others == 0 and comp2 == 0:
        return "easy"
    if (others <= 2 and comp1 <= 1 and comp2 == 0) or (comp1 <= 2 and others < 2 and comp2 == 0):
        return "medium"
    if ((others > 2 and comp1 <= 2 and comp2 == 0)
            or (2 < comp1 <= 3 and others <= 2 and comp2 == 0)
            or (comp1 <= 1 and others == 0 and comp2 <= 1)):
        return "hard"
    return "extra"


def _has_agg(unit: Any) -> bool:
    return unit[0] != 0  # AGG_OPS.index("none"); on cond units this reads not_op, as Spider does


def _count_agg(units: list) -> int:
    return sum(1 for u in units if _has_agg(u))


def from_spider_sql(sql: dict) -> str:
    """Hardness of Spider's parsed SQL dict (``dev.json``'s ``sql`` field)."""
    conds = sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]
    ands_ors = sql["from"]["conds"][1::2] + sql["where"][1::2] + sql["having"][1::2]
    comp1 = (bool(sql["where"]) + bool(sql["groupBy"]) + bool(sql["orderBy"])
             + (sql["limit"] is not None) + max(len(sql["from"]["table_units"]) - 1, 0)
             + sum(1 for t in ands_ors if t == "or") + sum(1 for c in conds if c[1] == _LIKE))
    nested = sum(isinstance(c[3], dict) + isinstance(c[4], dict) for c in conds)
    comp2 = nested + sum(sql[k] is not None for k in ("intersect", "except", "union"))
    agg = (_count_agg(sql["select"][1]) + _count_agg(sql["where"][::2])
           + _count_agg(sql["groupBy"]) + _count_agg(sql["having"]))
    if sql["orderBy"]:
        units = sql["orderBy"][1]
        agg += _count_agg([u[1] for u in units if u[1]] + [u[2] for u in units if u[2]])
    others = ((agg > 1) + (len(sql["select"][1]) > 1) + (len(sql["where"]) > 1)
              + (len(sql["groupBy"]) > 1))
    return level(comp1, comp2, others)


def _own(node: exp.Expression | None, kind: type | tuple) -> list[exp.Expression]:
    """Nodes of ``kind`` under ``node`` that belong to this query, not to a subquery."""
    if node is None:
        return []
    out = []
    for n in node.walk(prune=lambda x: isinstance(x, exp.Query) and x is not node):
        if isinstance(n, kind) and n is not node:
            out.append(n)
    return out


def _conditions(where: exp.Expression | None) -> int:
    """How many AND/OR-joined conditions a WHERE has."""
    if where is None:
        return 0
    return len(_own(where, exp.Connector)) + 1


def from_sql(sql: str, dialect: str = "sqlite") -> str | None:
    """Hardness from a query's AST; None when it does not parse."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None
    return from_tree(tree)


def from_tree(tree: exp.Expression | None) -> str | None:
    """Hardness from a parsed query (its first statement)."""
    comp2 = 0
    while isinstance(tree, exp.SetOperation):
        comp2 += 1
        tree = tree.this
    if not isinstance(tree, exp.Select):
        return None
    where, having = tree.args.get("where"), tree.args.get("having")
    joins = tree.args.get("joins") or []
    ons = [j.args.get("on") for j in joins if j.args.get("on") is not None]
    cond_parts = [p for p in (where, having, *ons) if p is not None]
    comp1 = (bool(where) + bool(tree.args.get("group")) + bool(tree.args.get("order"))
             + bool(tree.args.get("limit")) + len(joins)
             + sum(len(_own(p, exp.Or)) for p in cond_parts)
             + sum(len(_own(p, exp.Like)) for p in cond_parts))
    comp2 += sum(len(_own(p, exp.Query)) for p in cond_parts)
    group = tree.args.get("group")
    agg = sum(len(_own(p, _AGGREGATES)) + isinstance(p, _AGGREGATES)
              for p in [*tree.expressions, group, tree.args.get("order"), having] if p is not None)
    agg += len(_own(where, exp.Not))  # Spider's has_agg reads a WHERE condition's not_op
    others = ((agg > 1) + (len(tree.expressions) > 1) + (_conditions(where) > 1)
              + (len(group.expressions) > 1 if group else 0))
    return level(comp1, comp2, others)
