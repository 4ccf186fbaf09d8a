"""A user's own data for ``alignsql adapt``: the SQL they run (the workload) and the
question/SQL pairs that judge the result (the test), both bound to their SQLite file.

A ``.sql`` workload is split into statements on sqlglot's tokens (never on the text), each
parsed on its own; only queries are kept and everything else is counted. JSONL / CSV / JSON
/ parquet need a ``sql`` column; questions are optional for a workload, required for a test.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from alignsql.errors import AlignSQLError


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, cut at top-level semicolon tokens."""
    from sqlglot.errors import TokenError
    from sqlglot.tokens import Tokenizer, TokenType
    try:
        tokens = Tokenizer().tokenize(text)
    except TokenError as exc:
        raise AlignSQLError(f"cannot tokenize the SQL script: {str(exc).splitlines()[0]}") from None
    out, start = [], None
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if start is not None:
                out.append(text[start:tok.start].strip())
            start = None
        elif start is None:
            start = tok.start
    if start is not None:
        out.append(text[start:].strip())
    return [s for s in out if s]


def _queries_from_script(path: Path, skipped: Counter) -> list[dict]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    records = []
    for stmt in split_statements(text):
        try:
            tree = sqlglot.parse_one(stmt, read="sqlite")
        except ParseError:
            skipped["statement sqlglot cannot parse"] += 1
            continue
        if not isinstance(tree, exp.Query):
            skipped[f"not a query ({type(tree).__name__})"] += 1
            continue
        records.append({"question": "", "sql": stmt})
    return records


def read_pairs(path: str, db: Path, what: str, need_question: bool) -> tuple[list[dict], Counter]:
    """Records ``{id, question, sql, db_id, db_path}`` on the user's database, and the skips."""
    from alignsql.data.loaders import load_file
    p = Path(path)
    if not p.is_file():
        raise AlignSQLError(f"--{what} {path}: file not found")
    skipped: Counter = Counter()
    if p.suffix.lower() in (".sql", ".txt"):
        rows = _queries_from_script(p, skipped)
    else:
        ds = load_file(p)
        skipped.update(ds.skipped)
        rows = [{"question": e.question, "sql": e.sql} for e in ds.examples]
    if need_question:
        kept = [r for r in rows if r["question"].strip()]
        skipped["no question"] += len(rows) - len(kept)
        rows = kept
    if not rows:
        raise AlignSQLError(f"--{what} {path}: no usable record ({dict(skipped) or 'empty'})")
    return [{"id": f"{what}-{i}", **r, "db_id": db.stem, "db_path": str(db.resolve())}
            for i, r in enumerate(rows)], skipped


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
