"""Typed templates (SPFT-SQL stage 1): a query's structure plus typed slots.

Every table becomes a table slot; every column a column slot with its type (number or text)
and key role (primary key, foreign key, plain); every literal a value slot with its type and,
when it is compared with a column, that column; equalities between columns of two different
tables record the join shape. Built on the sqlglot AST of a query and its schema; the tree is
kept (a copy) so filling replaces names and values without touching the structure.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from alignsql.data.example import Schema
from alignsql.sql.template import template

NUMERIC = ("INT", "REAL", "NUM", "FLOAT", "DOUBLE", "DEC", "BOOL")
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like)


def kind_of(sql_type: str) -> str:
    return "number" if any(k in sql_type.upper() for k in NUMERIC) else "text"


@dataclass
class ColumnSlot:
    table: int
    name: str
    kind: str
    role: str
    """pk, fk or plain."""


@dataclass
class ValueSlot:
    kind: str
    column: int | None
    """Index of the column slot the value is compared with, if any."""


@dataclass
class TypedTemplate:
    tree: exp.Expression
    structural: tuple[str, ...]
    tables: list[str]
    columns: list[ColumnSlot] = field(default_factory=list)
    values: list[ValueSlot] = field(default_factory=list)
    joins: list[tuple[int, int]] = field(default_factory=list)
    """Pairs of column slots equated across two table slots."""

    @property
    def key(self) -> str:
        """Identity for counting and steering: structure, slot kinds and join shape."""
        cols = ",".join(f"{c.table}{c.kind[0]}{c.role[0]}" for c in self.columns)
        vals = ",".join(v.kind[0] for v in self.values)
        joins = ",".join(f"{self.columns[a].table}-{self.columns[b].table}" for a, b in self.joins)
        return f"{' '.join(self.structural)}|{len(self.tables)}|{cols}|{vals}|{joins}"


def _roles(schema: Schema) -> dict[tuple[str, str], str]:
    roles = {}
    for t in schema.tables:
        for c in t.primary_key:
            roles[(t.name.lower(), c.lower())] = "pk"
    for fk in schema.foreign_keys:
        roles.setdefault((fk.table.lower(), fk.column.lower()), "fk")
    return roles


def _resolve(col: exp.Column, aliases: dict[str, int], tables: list[str],
             schema: Schema) -> int | None:
    """Table slot of a column: its qualifier, else the first table of the query that has it."""
    if col.table:
        return aliases.get(col.table.lower())
    for i, name in enumerate(tables):
        t = schema.table(name)
        if t and any(c.name.lower() == col.name.lower() for c in t.columns):
            return i
    return None


def _strings_for_quoted_unknowns(tree: exp.Expression, tables: list[str], schema: Schema) -> None:
    """SQLite reads "Village" as a string when no column has that name (Spider relies on it):
    such a double-quoted, unqualified, unknown column becomes the string literal it is."""
    known = {c.name.lower() for t in tables for c in schema.table(t).columns}
    for col in list(tree.find_all(exp.Column)):
        ident = col.this
        if (not col.table and isinstance(ident, exp.Identifier) and ident.quoted
                and ident.name.lower() not in known):
            col.replace(exp.Literal.string(ident.name))


def extract(sql: str, schema: Schema, dialect: str = "sqlite") -> TypedTemplate | None:
    """The typed template of one query, or None (unparsable, or names outside the schema)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect).copy()
    except (ParseError, TokenError):
        return None
    tables, aliases = [], {}
    for t in tree.find_all(exp.Table):
        if schema.table(t.name) is None:
            return None
        aliases[t.alias_or_name.lower()] = len(tables)
        aliases.setdefault(t.name.lower(), len(tables))
        tables.append(schema.table(t.name).name)
    _strings_for_quoted_unknowns(tree, tables, schema)
    tt = TypedTemplate(tree, template(sql, dialect).tokens, tables)
    roles = _roles(schema)
    slot_of: dict[int, int] = {}
    for col in tree.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        ti = _resolve(col, aliases, tables, schema)
        if ti is None:
            return None
        table = schema.table(tables[ti])
        spec = next((c for c in table.columns if c.name.lower() == col.name.lower()), None)
        if spec is None:
            return None
        slot_of[id(col)] = len(tt.columns)
        # averaging or summing needs a number, whatever the source column was declared as
        kind = "number" if isinstance(col.parent, (exp.Avg, exp.Sum)) else kind_of(spec.type)
        tt.columns.append(ColumnSlot(ti, spec.name, kind,
                                     roles.get((table.name.lower(), spec.name.lower()), "plain")))
    for lit in tree.find_all(exp.Literal):
        other = None
        parent = lit.parent
        if isinstance(parent, _COMPARISONS):
            side = parent.left if parent.right is lit else parent.right
            other = slot_of.get(id(side)) if isinstance(side, exp.Column) else None
        tt.values.append(ValueSlot("number" if lit.is_number else "text", other))
    for eq in tree.find_all(exp.EQ):
        a, b = eq.left, eq.right
        if isinstance(a, exp.Column) and isinstance(b, exp.Column) and id(a) in slot_of \
                and id(b) in slot_of:
            sa, sb = slot_of[id(a)], slot_of[id(b)]
            if tt.columns[sa].table != tt.columns[sb].table:
                tt.joins.append((sa, sb))
    return tt
