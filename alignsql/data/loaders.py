"""One loader per dataset family. Each returns a ``Dataset``; bad records are counted, not
dropped silently."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alignsql.data import schema as schema_mod
from alignsql.data import wikisql
from alignsql.data.example import Dataset, Example, Schema
from alignsql.data.io import read_json, read_records
from alignsql.data.variables import substitute
from alignsql.errors import AlignSQLError, where
from alignsql.sql.hardness import from_spider_sql as spider_hardness


def _schemas(path: Path) -> dict[str, Schema]:
    entries = read_json(path)
    out = {}
    for i, entry in enumerate(entries):
        try:
            out[entry["db_id"]] = schema_mod.from_tables_json(entry)
        except (KeyError, IndexError, TypeError) as exc:
            raise AlignSQLError(f"{where(path, i)}: malformed schema entry ({exc!r})") from None
    return out


def _sqlite_paths(db_dir: Path, db_ids: Iterable[str]) -> dict[str, Path]:
    return {d: db_dir / d / f"{d}.sqlite" for d in db_ids}


NULL_SQL = "null"
"""EHRSQL marks an unanswerable question with the SQL text "null": not a query to learn or
score, so such records are skipped under their own count."""


def sql_skip_reason(sql: Any) -> str | None:
    """Why a record's SQL field is unusable (counted under that name), or None."""
    if not isinstance(sql, str) or not sql.strip():
        return "no sql"
    if sql.strip().lower() == NULL_SQL:
        return "unanswerable (sql is 'null')"
    return None


def _hardness(parsed: Any) -> str:
    """Spider's hardness from its parsed-SQL dict; '' when absent or not Spider's shape."""
    if not isinstance(parsed, dict):
        return ""
    try:
        return spider_hardness(parsed)
    except (KeyError, IndexError, TypeError, ValueError):
        return ""


def _examples(records: list[dict], path: Path, name: str, split: str, sql_key: str,
              skipped: Counter, dialect: str = "sqlite",
              id_key: str | None = None) -> list[Example]:
    """Spider-like records; records without usable SQL are counted in ``skipped``."""
    out = []
    for pos, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise AlignSQLError(f"{where(path, pos)}: expected a JSON object")
        sql = rec.get(sql_key)
        reason = sql_skip_reason(sql)
        if reason:
            skipped[reason] += 1
            continue
        ident = rec.get(id_key) if id_key else None
        parsed = rec.get("sql") if sql_key != "sql" else None
        out.append(Example(hardness=_hardness(parsed),
                           question=rec.get("question", "") or "", sql=str(sql).strip(),
                           db_id=rec.get("db_id", "") or "", evidence=rec.get("evidence", "") or "",
                           source=name, split=split, id=str(ident if ident is not None else pos),
                           dialect=dialect, difficulty=rec.get("difficulty", "") or ""))
    return out


SPIDER_SPLITS = {"dev": ["dev.json"], "train": ["train_spider.json", "train_others.json"],
                 "train_spider": ["train_spider.json"], "train_others": ["train_others.json"]}


def spider_files(root: Path, split: str) -> list[Path]:
    return [root / "spider" / f for f in SPIDER_SPLITS[split]]


def load_spider(root: Path, split: str) -> Dataset:
    base = root / "spider"
    files = spider_files(root, split)
    records: list[dict] = []
    for f in files:
        records.extend(read_json(f))
    ds = Dataset(f"spider:{split}", [], files=files + [base / "tables.json"])
    ds.examples = _examples(records, files[0], "spider", split, "query", ds.skipped)
    ds.schemas = _schemas(base / "tables.json")
    ds.db_paths = _sqlite_paths(base / "database", ds.schemas)
    return ds


BIRD_SPLITS = {"dev": ("dev/dev.json", "dev/dev_tables.json", "dev/dev_databases"),
               "train": ("train/train_filtered_6601.json", "train/train_tables.json",
                         "train/train_databases"),
               "mini_dev": ("mini_dev/mini_dev_sqlite.json", "mini_dev/dev_tables.json",
                            "dev/dev_databases")}


def bird_files(root: Path, split: str) -> list[Path]:
    return [root / "bird" / p for p in BIRD_SPLITS[split][:2]]


def load_bird(root: Path, split: str) -> Dataset:
    """BIRD keeps ``evidence`` and ``difficulty``; ids are its ``question_id``."""
    data, tables, dbs = (root / "bird" / p for p in BIRD_SPLITS[split])
    ds = Dataset(f"bird:{split}", [], files=[data, tables])
    ds.examples = _examples(read_json(data), data, "bird", split, "SQL", ds.skipped,
                            id_key="question_id")
    ds.schemas = _schemas(tables)
    # BIRD databases are absent here; users may have them
    ds.db_paths = _sqlite_paths(dbs, ds.schemas)
    return ds


KAGGLE_DBS = ["GeoNuclearData", "GreaterManchesterCrime", "Pesticide", "StudentMathScore",
              "TheHistoryofBaseball", "USWildFires", "WhatCDHipHop", "WorldSoccerDataBase"]


def kaggledbqa_files(root: Path, split: str) -> list[Path]:
    suffix = {"all": "", "test": "_test", "fewshot": "_fewshot"}[split]
    return [root / "kaggledbqa" / "examples" / f"{db}{suffix}.json" for db in KAGGLE_DBS]


def load_kaggledbqa(root: Path, split: str) -> Dataset:
    """``all`` = the full per-database files (272), ``test`` and ``fewshot`` their splits."""
    base = root / "kaggledbqa"
    files = kaggledbqa_files(root, split)
    ds = Dataset(f"kaggledbqa:{split}", [], files=files)
    for f in files:
        ds.examples.extend(_examples(read_json(f), f, "kaggledbqa", split, "query",
                                     ds.skipped))
    for pos, ex in enumerate(ds.examples):
        ex.id = str(pos)
    ds.schemas = _schemas(base / "KaggleDBQA_tables.json")
    ds.db_paths = _sqlite_paths(base / "databases", ds.schemas)
    return ds


TEXT2SQL = ["atis", "geography", "advising", "restaurants", "academic", "imdb", "yelp", "scholar"]
_T2S_DBS = {"geography": "geography-db.added-in-2020.sqlite",
            "restaurants": "restaurants-db.added-in-2020.sqlite"}


def text2sql_files(root: Path, split: str, name: str) -> list[Path]:
    if name == "wikisql":
        return [root / "wikisql" / "wikisql.json.bz2"]
    return [root / "text2sql-data" / f"{name}.json"]


def load_text2sql(root: Path, split: str, name: str) -> Dataset:
    """Finegan-Dollak et al. (2018) format: one entry per SQL, its sentences with variables.

    ``split`` is the sentence's ``question-split`` (train/dev/test, or a fold 0-9), or ``all``
    (every sentence except Advising's ``exclude``). The first SQL of each entry is the gold one.
    """
    base = root / "text2sql-data"
    (path,) = text2sql_files(root, split, name)
    entries = read_json(path)
    ds = Dataset(f"{name}:{split}", [], files=[path])
    for e_idx, entry in enumerate(entries):
        _add_text2sql_entry(ds, entry, path, e_idx, name, split)
    if name != "wikisql" and (base / f"{name}-schema.csv").exists():
        ds.schemas = {name: schema_mod.from_schema_csv(base / f"{name}-schema.csv", name)}
    if name in _T2S_DBS:
        ds.db_paths = {name: base / _T2S_DBS[name]}
    return ds


def _add_text2sql_entry(ds: Dataset, entry: dict, path: Path, e_idx: int, name: str,
                        split: str) -> None:
    sqls = entry.get("sql") or []
    if not sqls or not str(sqls[0]).strip():
        ds.skipped["no sql"] += len(entry.get("sentences", [])) or 1
        return
    gold = str(sqls[0])
    if name == "wikisql":
        gold = wikisql.build(gold) or gold
    for sent in entry.get("sentences", []):
        qsplit = str(sent.get("question-split", entry.get("query-split", "")))
        if qsplit == "exclude":
            ds.skipped["excluded split"] += split == "all"
            continue
        if split != "all" and qsplit != split:
            continue
        variables = {k: str(v) for k, v in (sent.get("variables") or {}).items()}
        question = sent.get("text", "")
        for var, value in variables.items():
            question = question.replace(var, value)  # question text, not SQL
        sql = substitute(gold, variables)
        db_id = sent.get("table-id", name) if name == "wikisql" else name
        ds.examples.append(Example(question=question, sql=sql, db_id=db_id, source=name,
                                   split=split, id=str(len(ds.examples))))


DEFOG_ALIASES = {d: f"questions_gen_{d}" for d in
                 ("sqlite", "postgres", "mysql", "bigquery", "tsql", "snowflake")}
_DEFOG_DIALECTS = {"postgres": "postgres", "sqlite": "sqlite", "mysql": "mysql",
                   "bigquery": "bigquery", "tsql": "tsql", "snowflake": "snowflake"}


def defog_files(root: Path, split: str) -> list[Path]:
    return [root / "defog" / "sql-eval" / f"{DEFOG_ALIASES.get(split, split)}.csv"]


def load_defog(root: Path, split: str) -> Dataset:
    """defog sql-eval question CSVs; ``split`` is the CSV stem or a dialect alias."""
    (path,) = defog_files(root, split)
    records = read_records(path)
    ds = Dataset(f"defog:{split}", [], files=[path])
    for pos, rec in enumerate(records):
        dialect = _DEFOG_DIALECTS.get(rec.get("db_type", ""), "postgres")
        rec["db_id"] = rec.get("db_name", "")
        ds.examples.extend(_examples([rec], path, "defog", split, "query", ds.skipped,
                                     dialect=dialect))
        if ds.examples:
            ds.examples[-1].id = str(pos)
    return ds


def gretel_files(root: Path, split: str) -> list[Path]:
    return [root / "gretel" / "text_to_sql_first25.csv"]


def load_gretel(root: Path, split: str) -> Dataset:
    return load_file(gretel_files(root, split)[0], name="gretel", split=split)


def load_file(path: Path, name: str | None = None, split: str = "file") -> Dataset:
    """Generic JSON/JSONL/CSV/parquet with ``question``, ``sql``, ``db_id`` and optionally
    ``db_path`` (a SQLite file, relative to this file); Gretel columns too (``sql_prompt``,
    ``sql_context`` DDL, ``sql``). Ids: the ``id`` field, else the position."""
    records = read_records(path)
    ds = Dataset(name or f"file:{path}", [], files=[path])
    for pos, rec in enumerate(records):
        ex = _generic_example(rec, path, pos, ds)
        if ex is not None:
            ex.source, ex.split = name or "file", split
            ds.examples.append(ex)
    if not ds.examples:
        raise AlignSQLError(f"{path}: no usable records (need a 'sql' field and a 'question')")
    return ds


def _attach_database(ds: Dataset, db_id: str, db: Path) -> None:
    """A record's ``db_path`` (relative to its file, or absolute): its SQLite file gives the
    schema and makes the example executable (synthetic data written by ``alignsql synth``)."""
    if db_id in ds.db_paths or ds.skipped.get(f"db_path not found: {db}"):
        return
    if not db.is_file():
        ds.skipped[f"db_path not found: {db}"] += 1
        return
    ds.db_paths[db_id] = db
    ds.schemas.setdefault(db_id, schema_mod.from_sqlite(db, db_id))


def _generic_example(rec: Any, path: Path, pos: int, ds: Dataset) -> Example | None:
    if not isinstance(rec, dict):
        raise AlignSQLError(f"{where(path, pos)}: expected a record with named fields")
    # the first text field: Spider-format files hold the parsed query as a dict under "sql"
    # and the text under "query"
    sql = next((rec[k] for k in ("sql", "query", "SQL") if isinstance(rec.get(k), str)
                and rec[k].strip()), None)
    question = next((rec[k] for k in ("question", "sql_prompt", "text") if rec.get(k)), "")
    reason = sql_skip_reason(sql)
    if reason:
        ds.skipped[reason] += 1
        return None
    db_id = str(rec.get("db_id") or "")
    if rec.get("sql_context"):
        db_id = db_id or f"{ds.name}#{rec.get('id', pos)}"
        try:
            ds.schemas[db_id] = schema_mod.from_ddl(str(rec["sql_context"]), db_id)
        except AlignSQLError:
            ds.skipped["unparsable sql_context"] += 1
    if rec.get("db_path") and db_id:
        _attach_database(ds, db_id, path.parent / str(rec["db_path"]))
    ident = rec.get("id", rec.get("question_id"))
    parsed = rec.get("sql")
    return Example(question=str(question), sql=sql.strip(), db_id=db_id,
                   hardness=_hardness(parsed),
                   evidence=str(rec.get("evidence") or ""),
                   id=str(ident if ident not in (None, "") else pos),
                   difficulty=str(rec.get("difficulty") or ""),
                   dialect=str(rec.get("dialect") or "sqlite"))
