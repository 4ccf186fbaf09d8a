"""A large-database setting like LR-SQL's: many Spider databases merged into one schema.

Tables keep their names unless two databases share one (then both become ``db__table``), or
all are prefixed with ``prefix=True``. The questions of those databases come along with their
gold SQL renamed on the AST, and a real merged SQLite file is built (read-only sources,
``CREATE TABLE AS SELECT``) so predictions on the merged schema execute.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from alignsql.data.example import Dataset, Example, ForeignKey, Schema
from alignsql.errors import AlignSQLError
from alignsql.sql.tables import rename_tables, used_tables


@dataclass
class Merged:
    schema: Schema
    dataset: Dataset
    mapping: dict[str, dict[str, str]]
    """db_id -> {original table (lower) -> merged name}."""
    skipped: Counter = field(default_factory=Counter)


def choose_dbs(ds: Dataset, min_tables: int) -> list[str]:
    """Databases with a SQLite file, in name order, until their tables reach ``min_tables``;
    a dataset that ships schemas only (BIRD here) merges its schemas (no EX then)."""
    with_files = [db for db in sorted(ds.schemas) if ds.db_path(db) is not None]
    chosen, total = [], 0
    for db in with_files or sorted(ds.schemas):
        chosen.append(db)
        total += len(ds.schemas[db].tables)
        if total >= min_tables:
            return chosen
    raise AlignSQLError(f"{ds.name}: only {total} tables in {len(chosen)} databases, fewer "
                        f"than min_tables={min_tables}")


def _names(ds: Dataset, dbs: list[str], prefix: bool) -> dict[str, dict[str, str]]:
    counts = Counter(t.name.lower() for db in dbs for t in ds.schemas[db].tables)
    return {db: {t.name.lower(): (f"{db}__{t.name}" if prefix or counts[t.name.lower()] > 1
                                  else t.name) for t in ds.schemas[db].tables} for db in dbs}


def merge_schema(ds: Dataset, dbs: list[str], mapping: dict[str, dict[str, str]]) -> Schema:
    merged = Schema("merged")
    for db in dbs:
        names = mapping[db]
        for t in ds.schemas[db].tables:
            merged.tables.append(replace(t, name=names[t.name.lower()]))
        for fk in ds.schemas[db].foreign_keys:
            if fk.table.lower() in names and fk.ref_table.lower() in names:
                merged.foreign_keys.append(ForeignKey(names[fk.table.lower()], fk.column,
                                                      names[fk.ref_table.lower()], fk.ref_column))
    return merged


def build_sqlite(ds: Dataset, dbs: list[str], mapping: dict[str, dict[str, str]],
                 out: Path) -> Path:
    """One SQLite file holding every table under its merged name (sources opened read-only)."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.text_factory = bytes
    try:
        for db in dbs:
            src = Path(ds.db_path(db)).resolve().as_uri() + "?mode=ro"
            con.execute("ATTACH DATABASE ? AS src", (src,))
            for t in ds.schemas[db].tables:
                new, old = mapping[db][t.name.lower()], t.name.replace('"', '""')
                new_q = new.replace('"', '""')
                con.execute(f'CREATE TABLE "{new_q}" AS SELECT * FROM src."{old}"')
            con.commit()
            con.execute("DETACH DATABASE src")
    finally:
        con.close()
    tmp.replace(out)
    return out


def merge(ds: Dataset, out: Path, min_tables: int = 150, prefix: bool = False,
          dbs: list[str] | None = None) -> Merged:
    dbs = dbs or choose_dbs(ds, min_tables)
    mapping = _names(ds, dbs, prefix)
    schema = merge_schema(ds, dbs, mapping)
    # schemas without databases still give link training and table metrics, not EX
    path = build_sqlite(ds, dbs, mapping, out) if all(ds.db_path(d) for d in dbs) else None
    merged_ds = Dataset(f"{ds.name}+merged", [], {"merged": schema},
                        {"merged": path} if path else {})
    skipped: Counter = Counter()
    for ex in ds.examples:
        if ex.db_id not in mapping:
            continue
        tables = used_tables(ex.sql, ex.dialect)
        if tables is None:
            skipped["gold SQL does not parse"] += 1
            continue
        if not tables <= set(mapping[ex.db_id]):
            skipped["gold SQL names a table missing from the schema"] += 1
            continue
        sql = rename_tables(ex.sql, mapping[ex.db_id], ex.dialect)
        merged_ds.examples.append(replace(ex, sql=sql, db_id="merged", id=f"{ex.db_id}/{ex.id}"))
    merged_ds.skipped = skipped
    return Merged(schema, merged_ds, mapping, skipped)


def gold_tables(ex: Example, schema: Schema) -> set[str] | None:
    """Merged-schema names of the tables the (renamed) gold SQL uses."""
    used = used_tables(ex.sql, ex.dialect)
    if used is None:
        return None
    names = {t.name.lower(): t.name for t in schema.tables}
    return {names[u] for u in used if u in names}
