"""The data model: one text-to-SQL ``Example`` and a database ``Schema``."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class Column:
    name: str
    type: str = ""
    samples: list[str] = field(default_factory=list)
    """A few distinct values from the database, for prompts (optional)."""


@dataclass(slots=True)
class Table:
    name: str
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ForeignKey:
    table: str
    column: str
    ref_table: str
    ref_column: str


@dataclass(slots=True)
class Schema:
    db_id: str
    tables: list[Table] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    def table(self, name: str) -> Table | None:
        low = name.lower()
        return next((t for t in self.tables if t.name.lower() == low), None)

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]


@dataclass(slots=True)
class Example:
    """One question/SQL pair. ``id`` is the dataset's own id, else the 0-based position."""

    question: str
    sql: str
    db_id: str = ""
    evidence: str = ""
    source: str = ""
    split: str = ""
    id: str = ""
    dialect: str = "sqlite"
    difficulty: str = ""
    """BIRD's difficulty label (simple/moderate/challenging) when the dataset has one."""
    hardness: str = ""
    """Spider's hardness (easy/medium/hard/extra) when the dataset ships its parsed SQL."""


@dataclass
class Dataset:
    """A loaded split: examples, schemas by db_id, SQLite paths by db_id, skip counts."""

    name: str
    examples: list[Example]
    schemas: dict[str, Schema] = field(default_factory=dict)
    db_paths: dict[str, Path] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    """Records not loaded, by reason (``"no sql"``, ``"excluded split"``, ...)."""
    files: list[Path] = field(default_factory=list)
    """The files it was read from (for cache fingerprints and messages)."""

    def __len__(self) -> int:
        return len(self.examples)

    def db_path(self, db_id: str) -> Path | None:
        path = self.db_paths.get(db_id)
        return path if path is not None and path.exists() else None
