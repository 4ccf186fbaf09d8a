"""Filling a typed template on a user's database: tables along real foreign-key paths, columns
of matching kind (and key role where possible), values drawn from the database's contents (so
WHERE clauses hit rows), rendered with sqlglot. Every failure has a counted reason; attempts
are capped by the caller, never an endless loop. The database is only read."""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from alignsql.data.example import Schema, Table
from alignsql.eval.executor import execute
from alignsql.synth.templates import TypedTemplate, kind_of


_KEYWORDS = {k.upper() for k in SQLite.Tokenizer.KEYWORDS if k.replace("_", "").isalpha()}


class FillError(Exception):
    """A template that cannot be filled on this schema; ``reason`` is counted by the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ident(name: str) -> exp.Identifier:
    """Quoted only when it must be (not a plain word, or a keyword), as people write SQL."""
    plain = name.replace("_", "a").isalnum() and name.isascii() and not name[0].isdigit()
    return exp.to_identifier(name, quoted=not plain or name.upper() in _KEYWORDS)


def _fk_edges(schema: Schema) -> dict[str, list[tuple[str, str, str]]]:
    """table -> [(neighbour, my column, its column)] in both directions."""
    edges: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for fk in schema.foreign_keys:
        a, b = schema.table(fk.table), schema.table(fk.ref_table)
        if a and b and a is not b:
            edges[a.name].append((b.name, fk.column, fk.ref_column))
            edges[b.name].append((a.name, fk.ref_column, fk.column))
    return edges


def _assign_tables(tt: TypedTemplate, schema: Schema, rng: random.Random) -> tuple[list[str], dict]:
    """Table per slot, and the columns fixed by joins: {column slot: column name}."""
    n = len(tt.tables)
    names = [t.name for t in schema.tables]
    if not tt.joins:
        if n > len(names):
            raise FillError("more tables than the schema has")
        return rng.sample(names, n), {}
    edges = _fk_edges(schema)
    if not edges:
        raise FillError("join template on a schema without foreign keys")
    assigned: dict[int, str] = {}
    fixed: dict[int, str] = {}
    first = tt.columns[tt.joins[0][0]].table
    assigned[first] = rng.choice(sorted(edges))
    for a, b in tt.joins:
        ta, tb = tt.columns[a].table, tt.columns[b].table
        if ta not in assigned and tb in assigned:
            a, b, ta, tb = b, a, tb, ta
        if ta not in assigned:
            raise FillError("join shape not connected")
        options = [e for e in edges.get(assigned[ta], [])
                   if tb not in assigned or e[0] == assigned[tb]]
        if not options:
            raise FillError("no foreign-key path for the join shape")
        other, mine, theirs = rng.choice(options)
        assigned[tb] = other
        fixed[a], fixed[b] = mine, theirs
    rest = [t for t in names if t not in assigned.values()] or names
    for slot in range(n):
        assigned.setdefault(slot, rng.choice(rest))
    return [assigned[i] for i in range(n)], fixed


def _pick_column(table: Table, kind: str, role: str, used: set[str], rng: random.Random) -> str:
    cols = [c for c in table.columns if kind_of(c.type) == kind] or []
    if not cols:
        raise FillError(f"no {kind} column")
    fresh = [c for c in cols if c.name not in used] or cols
    preferred = [c for c in fresh if (role == "pk") == (c.name in table.primary_key)] or fresh
    return rng.choice(preferred).name


def _value(db: Path, table: str, column: str, kind: str, rng: random.Random) -> exp.Expression:
    q_table = ident(table).sql("sqlite")
    q_col = ident(column).sql("sqlite")
    res = execute(db, f"SELECT DISTINCT {q_col} FROM {q_table} WHERE {q_col} IS NOT NULL LIMIT 50",
                  timeout_s=2.0, max_rows=50)
    if not res.ok or not res.rows:
        raise FillError("no values in the compared column")
    value = rng.choice(res.rows)[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def fill(tt: TypedTemplate, schema: Schema, db: Path, rng: random.Random) -> str:
    """One concrete query for the template on this database (raises FillError)."""
    tables, fixed = _assign_tables(tt, schema, rng)
    names: list[str] = []
    used: dict[int, set[str]] = defaultdict(set)
    for i, slot in enumerate(tt.columns):
        table = schema.table(tables[slot.table])
        name = fixed.get(i) or _pick_column(table, slot.kind, slot.role, used[slot.table], rng)
        used[slot.table].add(name)
        names.append(name)
    tree = tt.tree.copy()
    for node, new in zip(list(tree.find_all(exp.Table)), tables):
        node.set("this", ident(new))
    cols = [c for c in tree.find_all(exp.Column) if not isinstance(c.this, exp.Star)]
    for node, new in zip(cols, names):
        node.set("this", ident(new))
    for node, slot in zip(list(tree.find_all(exp.Literal)), tt.values):
        if slot.column is not None:
            col = tt.columns[slot.column]
            node.replace(_value(db, tables[col.table], names[slot.column], col.kind, rng))
    return tree.sql("sqlite")
