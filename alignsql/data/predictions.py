"""Reading model predictions: JSONL (``id`` + ``sql``, or ``sql`` alone matched by line order)
or test-suite plain text (one SQL per line). Bad lines are counted, not fatal."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from alignsql.data.example import Example
from alignsql.data.io import parse_json_line
from alignsql.errors import AlignSQLError

SQL_KEYS = ("sql", "pred", "prediction", "predicted_sql")


@dataclass
class Predictions:
    by_id: dict[str, str] = field(default_factory=dict)
    ordered: list[str] = field(default_factory=list)
    """Predictions without ids, matched to examples by position."""
    counts: Counter = field(default_factory=Counter)
    """Oddities seen while reading: non_utf8, duplicate_id, no_sql_field, ..."""

    def for_examples(self, examples: list[Example]) -> tuple[dict[str, str | None], int]:
        """Each example's prediction (None if missing) and how many predictions matched none."""
        if self.ordered:
            out = {e.id: (self.ordered[i] if i < len(self.ordered) else None)
                   for i, e in enumerate(examples)}
            return out, max(0, len(self.ordered) - len(examples))
        ids = {e.id for e in examples}
        return {e.id: self.by_id.get(e.id) for e in examples}, len(set(self.by_id) - ids)


def _lines(path: Path, counts: Counter):
    if not path.is_file():
        raise AlignSQLError(f"{path}: predictions file not found")
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError:
                counts["non_utf8"] += 1
                yield lineno, raw.decode("utf-8", errors="replace")


def _is_db_id(field: str) -> bool:
    return bool(field) and field.replace("_", "").replace("-", "").isalnum()


def _plain_lines(lines: list[str]) -> list[str]:
    """test-suite-sql-eval's format: one query per line, optionally "SQL<TAB>db_id". The db_id
    column is recognised for the whole file (every non-empty line ends in a tab and a bare
    name), so a tab inside a query never cuts it."""
    filled = [ln for ln in lines if ln.strip()]
    tagged = bool(filled) and all("\t" in ln and _is_db_id(ln.rsplit("\t", 1)[1].strip())
                                  for ln in filled)
    if tagged:
        return [ln.rsplit("\t", 1)[0].strip() if ln.strip() else "" for ln in lines]
    return [ln.strip() for ln in lines]


def read_predictions(path: str | Path) -> Predictions:
    path = Path(path)
    preds = Predictions()
    if path.suffix in (".sql", ".txt"):
        preds.ordered = _plain_lines([line.rstrip("\r\n") for _, line in
                                      _lines(path, preds.counts)])
        return preds
    with_id = without_id = 0
    for lineno, line in _lines(path, preds.counts):
        if not line.strip():
            continue
        rec = parse_json_line(path, lineno, line)
        sql = next((rec[k] for k in SQL_KEYS if k in rec), None)
        if sql is None:
            preds.counts["no_sql_field"] += 1
            sql = ""
        sql = str(sql if not isinstance(sql, list) else (sql[0] if sql else ""))
        if "id" in rec and rec["id"] is not None:
            with_id += 1
            key = str(rec["id"])
            if key in preds.by_id:
                preds.counts["duplicate_id"] += 1  # the first prediction for an id is kept
            preds.by_id.setdefault(key, sql)
        else:
            without_id += 1
            preds.ordered.append(sql)
    if with_id and without_id:
        raise AlignSQLError(f"{path}: {with_id} lines have an 'id' and {without_id} do not; "
                            f"use ids on every line or on none")
    return preds
