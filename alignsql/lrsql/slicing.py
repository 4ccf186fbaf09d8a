"""LR-SQL's schema slices: CREATE TABLE statements packed into slices under a token budget.

"A Supervised Fine-Tuning Method for Text2SQL Tasks under Low-Resource Scenarios" (LR-SQL):
the schema-link model sees one slice of the database at a time. Here tables that have
foreign keys come first and the tables of one foreign-key component stay together where they
fit; a seeded random order is the ablation. Every table lands in exactly one slice; a table
whose statement alone exceeds the budget gets a slice of its own and is reported.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from alignsql.data.example import Schema
from alignsql.data.schema import table_ddl


@dataclass
class Slicing:
    slices: list[list[str]]
    """Table names per slice, in prompt order."""
    costs: dict[str, int]
    """Tokens of each table's statement."""
    budget: int
    oversize: list[str] = field(default_factory=list)
    """Tables whose statement alone is over the budget (each alone in its slice)."""

    def slice_cost(self, i: int) -> int:
        return sum(self.costs[t] for t in self.slices[i])


def fk_components(schema: Schema) -> list[list[str]]:
    """Connected components of the foreign-key graph, BFS order inside each (neighbours stay
    adjacent), components with keys first and larger first; key-less tables last, in order."""
    names = [t.name for t in schema.tables]
    low = {n.lower(): n for n in names}
    graph: dict[str, set[str]] = defaultdict(set)
    for fk in schema.foreign_keys:
        a, b = low.get(fk.table.lower()), low.get(fk.ref_table.lower())
        if a and b and a != b:
            graph[a].add(b)
            graph[b].add(a)
    seen: set[str] = set()
    comps: list[list[str]] = []
    for start in names:
        if start in seen:
            continue
        comp, queue = [], [start]
        seen.add(start)
        while queue:
            node = queue.pop(0)
            comp.append(node)
            for nxt in sorted(graph[node], key=names.index):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        comps.append(comp)
    linked = sorted((c for c in comps if len(c) > 1), key=len, reverse=True)
    return linked + [c for c in comps if len(c) == 1]


def slice_schema(schema: Schema, count: Callable[[str], int], budget: int,
                 mode: str = "fk", seed: int = 0) -> Slicing:
    """Pack the schema into slices of at most ``budget`` tokens (``mode`` fk or random)."""
    costs = {t.name: count(table_ddl(schema, t) + ";\n") for t in schema.tables}
    if mode == "random":
        order = [t.name for t in schema.tables]
        random.Random(seed).shuffle(order)
        groups = [[n] for n in order]
    else:
        groups = fk_components(schema)
    result = Slicing([], costs, budget)
    for group in groups:
        _place(group, result)
    return result


def _place(group: list[str], result: Slicing) -> None:
    """A group fits whole into the first slice with room, else a new slice; a group larger
    than the budget is cut, in order, across consecutive slices."""
    total = sum(result.costs[t] for t in group)
    if total <= result.budget:
        for i in range(len(result.slices)):
            if result.slice_cost(i) + total <= result.budget:
                result.slices[i].extend(group)
                return
        result.slices.append(list(group))
        return
    current: list[str] = []
    for name in group:
        cost = result.costs[name]
        if cost > result.budget:
            result.oversize.append(name)
            result.slices.append([name])
            continue
        if sum(result.costs[t] for t in current) + cost > result.budget:
            result.slices.append(current)
            current = []
        current.append(name)
    if current:
        result.slices.append(current)
