"""Schemas from Spider-style tables JSON, a SQLite file, DDL text or a schema CSV; and back to
DDL."""
from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from alignsql.data.example import Column, ForeignKey, Schema, Table
from alignsql.errors import AlignSQLError

_SPIDER_TYPES = {"number": "INTEGER", "text": "TEXT", "time": "DATETIME", "boolean": "BOOLEAN",
                 "others": "TEXT", "real": "REAL", "integer": "INTEGER", "date": "DATE"}


def from_tables_json(entry: dict[str, Any]) -> Schema:
    """A Spider/BIRD/KaggleDBQA ``tables.json`` entry (original names kept)."""
    names = entry["table_names_original"]
    tables = [Table(name) for name in names]
    cols = entry["column_names_original"]
    types = entry.get("column_types", [])
    for idx, (t_idx, col) in enumerate(cols):
        if t_idx < 0:
            continue
        ctype = _SPIDER_TYPES.get(str(types[idx]).lower(), str(types[idx]).upper()) if idx < len(types) else ""
        tables[t_idx].columns.append(Column(col, ctype))
    for pk in entry.get("primary_keys", []):
        for idx in pk if isinstance(pk, list) else [pk]:
            t_idx, col = cols[idx]
            tables[t_idx].primary_key.append(col)
    fks = []
    for src, dst in entry.get("foreign_keys", []):
        (st, sc), (dt, dc) = cols[src], cols[dst]
        fks.append(ForeignKey(names[st], sc, names[dt], dc))
    return Schema(entry["db_id"], tables, fks)


def from_sqlite(path: str | Path, db_id: str | None = None, samples: int = 0) -> Schema:
    """Introspect a SQLite file, read-only. ``samples`` distinct values per column if > 0."""
    path = Path(path)
    if not path.is_file():
        raise AlignSQLError(f"database file {path} not found")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        schema = Schema(db_id or path.stem)
        for name in names:
            schema.tables.append(_introspect_table(con, name, samples))
            for row in con.execute(f"PRAGMA foreign_key_list({_quote(name)})"):
                ref_table, src, dst = row[2], row[3], row[4]
                schema.foreign_keys.append(ForeignKey(name, src, ref_table, dst or src))
        return schema
    except sqlite3.DatabaseError as exc:
        raise AlignSQLError(f"{path}: not a readable SQLite database ({exc})") from None
    finally:
        con.close()


def _quote(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("sqlite")


def _introspect_table(con: sqlite3.Connection, name: str, samples: int) -> Table:
    table = Table(name)
    info = sorted(con.execute(f"PRAGMA table_info({_quote(name)})"), key=lambda r: r[0])
    for _, col, ctype, _, _, pk in info:
        column = Column(col, (ctype or "").upper())
        if samples > 0:
            query = (f"SELECT DISTINCT {_quote(col)} FROM {_quote(name)} "
                     f"WHERE {_quote(col)} IS NOT NULL LIMIT {int(samples)}")
            column.samples = [str(r[0])[:60] for r in con.execute(query)]
        table.columns.append(column)
    table.primary_key = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    return table


def from_ddl(text: str, db_id: str = "ddl", dialect: str = "sqlite") -> Schema:
    """CREATE TABLE statements (other statements, such as INSERTs, are ignored)."""
    try:
        statements = sqlglot.parse(text, read=dialect)
    except sqlglot.errors.ParseError as exc:
        raise AlignSQLError(f"DDL for {db_id} does not parse: {str(exc).splitlines()[0]}") from None
    schema = Schema(db_id)
    for stmt in statements:
        if isinstance(stmt, exp.Create) and stmt.kind == "TABLE":
            _add_create(schema, stmt)
    return schema


def _add_create(schema: Schema, stmt: exp.Create) -> None:
    target = stmt.this
    table_expr = target.this if isinstance(target, exp.Schema) else target
    table = Table(table_expr.name)
    for item in target.expressions if isinstance(target, exp.Schema) else []:
        if isinstance(item, exp.ColumnDef):
            ctype = item.args.get("kind")
            table.columns.append(Column(item.name, ctype.sql("sqlite") if ctype else ""))
            if any(isinstance(c.kind, exp.PrimaryKeyColumnConstraint) for c in item.constraints):
                table.primary_key.append(item.name)
        elif isinstance(item, exp.PrimaryKey):
            table.primary_key.extend(e.name for e in item.expressions)
        elif isinstance(item, exp.ForeignKey):
            ref = item.args.get("reference")
            ref_schema = ref.this if ref else None
            if isinstance(ref_schema, exp.Schema):
                ref_cols = [e.name for e in ref_schema.expressions]
                for i, col in enumerate(item.expressions):
                    dst = ref_cols[i] if i < len(ref_cols) else col.name
                    schema.foreign_keys.append(
                        ForeignKey(table.name, col.name, ref_schema.this.name, dst))
    schema.tables.append(table)


def from_schema_csv(path: Path, db_id: str) -> Schema:
    """The text2sql-data schema CSV (Table Name, Field Name, Is Primary Key, ...)."""
    schema = Schema(db_id)
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh, skipinitialspace=True):
            tname, col = row.get("Table Name", "-").strip(), row.get("Field Name", "-").strip()
            if tname in ("-", "") or col in ("-", ""):
                continue
            table = schema.table(tname) or Table(tname)
            if table not in schema.tables:
                schema.tables.append(table)
            table.columns.append(Column(col, (row.get("Type") or "").strip().upper()))
            if (row.get("Is Primary Key") or "").strip().lower() == "y":
                table.primary_key.append(col)
    return schema


def table_ddl(schema: Schema, table: Table, dialect: str = "sqlite") -> str:
    """One CREATE TABLE statement with primary and foreign keys, built as a sqlglot AST."""
    items: list[exp.Expression] = []
    for col in table.columns:
        kind = _data_type(col.type, dialect)
        items.append(exp.ColumnDef(this=exp.to_identifier(col.name, quoted=_needs_quote(col.name)),
                                   kind=kind))
    if table.primary_key:
        items.append(exp.PrimaryKey(expressions=[_ident(c) for c in table.primary_key]))
    for fk in schema.foreign_keys:
        if fk.table.lower() == table.name.lower():
            ref = exp.Reference(this=exp.Schema(this=exp.to_table(fk.ref_table),
                                                expressions=[_ident(fk.ref_column)]))
            items.append(exp.ForeignKey(expressions=[_ident(fk.column)], reference=ref))
    create = exp.Create(kind="TABLE", this=exp.Schema(this=exp.Table(this=_ident(table.name)),
                                                      expressions=items))
    return create.sql(dialect)


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=_needs_quote(name))


def _needs_quote(name: str) -> bool:
    return not name.replace("_", "a").isalnum() or name[:1].isdigit()


def _data_type(text: str, dialect: str) -> exp.DataType | None:
    if not text:
        return None
    try:
        return exp.DataType.build(text, dialect=dialect)
    except (sqlglot.errors.ParseError, ValueError):
        return exp.DataType.build("TEXT")

