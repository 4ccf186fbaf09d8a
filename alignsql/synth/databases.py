"""The databases synthesis runs on: every SQLite database of a dataset spec, or one file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alignsql.data import registry
from alignsql.data.example import Schema
from alignsql.data.schema import from_sqlite
from alignsql.errors import AlignSQLError

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


@dataclass
class Database:
    db_id: str
    path: Path
    schema: Schema


def databases(spec: str, root: str | None = None) -> list[Database]:
    """A SQLite path gives one database (schema read from the file); a dataset spec gives each
    of its databases that exists, with the dataset's curated schema (its keys)."""
    path = Path(spec)
    if path.suffix.lower() in SQLITE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise AlignSQLError(f"{path}: database file not found")
        return [Database(path.stem, path, from_sqlite(path, path.stem))]
    ds = registry.load(spec, root)
    out = []
    for db_id in sorted({e.db_id for e in ds.examples}):
        db = ds.db_path(db_id)
        if db is not None:
            out.append(Database(db_id, db, ds.schemas.get(db_id) or from_sqlite(db, db_id)))
    if not out:
        raise AlignSQLError(f"{spec}: none of its SQLite databases were found")
    return out
