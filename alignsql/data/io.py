"""Reading JSON/JSONL/CSV/parquet records with one-line errors that name file and record."""
from __future__ import annotations

import bz2
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignsql.errors import AlignSQLError, where


def _open_text(path: Path):
    if not path.is_file():
        raise AlignSQLError(f"{path}: file not found")
    # utf-8-sig: a byte-order mark (Excel's CSV, some JSON exporters) is dropped, not read
    # into the first header or rejected as JSON
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig", newline="")


def read_json(path: Path) -> Any:
    try:
        with _open_text(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise AlignSQLError(f"{path}: malformed JSON at line {exc.lineno} ({exc.msg})") from None
    except UnicodeDecodeError:
        raise AlignSQLError(f"{path}: not UTF-8 text") from None


def parse_json_line(path: Path, lineno: int, line: str) -> dict[str, Any]:
    """One JSONL record, or a one-line error naming the file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AlignSQLError(f"{where(path, lineno)}: malformed JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise AlignSQLError(f"{where(path, lineno)}: expected a JSON object")
    return record


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield parse_json_line(path, lineno, line)


def read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with _open_text(path) as fh:
            return list(csv.DictReader(fh))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise AlignSQLError(f"{path}: malformed CSV ({exc})") from None


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise AlignSQLError(f"{path}: unreadable parquet ({exc})") from None


def read_records(path: Path) -> list[dict[str, Any]]:
    """Any of JSON (a list), JSONL, CSV or parquet, by extension."""
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".bz2" else path.suffix
    if suffix in (".jsonl", ".jsonl.bz2"):
        return list(read_jsonl(path))
    if suffix in (".json", ".json.bz2"):
        data = read_json(path)
        if not isinstance(data, list):
            raise AlignSQLError(f"{path}: expected a JSON list of records")
        return data
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".parquet":
        return read_parquet(path)
    raise AlignSQLError(f"{path}: unknown file type (use .json, .jsonl, .csv or .parquet)")
