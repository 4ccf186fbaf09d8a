"""SQL-to-text: a model writes the question each synthetic query answers (SPFT-SQL stage 1),
and the round-trip check keeps a pair only when a text-to-SQL model, given the question,
writes SQL with the same result.

Both directions use the one prompt module (``render_chat``); the SQL-to-text prompt shows the
database's schema (shared by every query on it, so its KV cache is reused) and the SQL.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
import re
from dataclasses import dataclass
from pathlib import Path

from alignsql.data.example import Example, Schema
from alignsql.data.schema import table_ddl
from alignsql.eval.compare import order_matters, results_match
from alignsql.eval.executor import execute

SYSTEM = "You are an expert in SQLite. You write the question a user asked, given the SQL."
INSTRUCTION = ("Write the one question, in plain English, that this SQL query answers. "
               "Do not mention SQL, tables or columns by their technical names when a plain "
               "word will do. Reply with the question only.")
OPENING = "Question: "


@dataclass
class Pair:
    """One synthetic query on its database, and the question written for it."""
    sql: str
    db_id: str
    db_path: Path
    schema: Schema
    meta: dict
    question: str = ""


def schema_text(schema: Schema) -> str:
    return "\n".join(table_ddl(schema, t, "sqlite") + ";" for t in schema.tables)


def prompt(tokenizer, schema: Schema, sql: str) -> tuple[str, str]:
    """(prompt, its per-database prefix)."""
    from alignsql.models.prompts import render_chat
    marker = "\u0000SQL\u0000"
    user = f"Database schema:\n{schema_text(schema)}\n\n{marker}"
    text = render_chat(tokenizer, user, system=SYSTEM, opening=OPENING)
    prefix = text[:text.index(marker)]
    return text.replace(marker, f"SQL:\n{sql}\n\n{INSTRUCTION}"), prefix


def clean_question(text: str) -> str:
    """The first non-empty line, without a list number, a "Question:" label or quotes; ""
    when nothing is left (the pair is then dropped and counted)."""
    line = next((x.strip() for x in text.strip().splitlines() if x.strip()), "")
    line = re.sub(r"^(\d+[.)]\s*)", "", line)  # a list number: "1. What is ..."
    if line.lower().startswith("question:"):
        line = line[len("question:"):].strip()
    line = line.strip("\"'` ")
    return line if any(ch.isalpha() for ch in line) else ""


def write_questions(lm, pairs: Sequence[Pair], max_new_tokens: int = 64, slots: int = 8,
                    on_done: Callable[[int], None] = lambda _: None) -> None:
    """Fill ``pair.question`` for every pair (greedy decoding) with an engine or a loaded
    model; ``on_done(i)`` is called with each pair's index as its question arrives."""
    from alignsql.models.engines import as_engine
    from alignsql.models.generate import GenOptions, Request

    engine = as_engine(lm)
    reqs = []
    for i, p in enumerate(pairs):
        text, prefix = prompt(engine.tokenizer, p.schema, p.sql)
        reqs.append(Request(i, text, prefix))
    reqs.sort(key=lambda r: r.prefix)  # one database's queries together: its schema is cached
    for key, gens in engine.stream(reqs, GenOptions(max_new_tokens=max_new_tokens), slots):
        pairs[key].question = clean_question(gens[0].text)
        on_done(key)


def training_records(examples: Sequence[tuple[Example, Schema]], tokenizer) -> list[dict]:
    """(SQL -> question) prompt/completion pairs of a source set, to fine-tune the writer."""
    out = []
    for ex, schema in examples:
        text, prefix = prompt(tokenizer, schema, ex.sql)
        out.append({"prompt": text, "prefix": prefix, "completion": ex.question.strip() + "\n",
                    "id": ex.id})
    return out


def round_trip(pairs: Sequence[Pair], answer: Callable[[Sequence[Pair]], list[str]],
               timeout: float = 5.0) -> list[bool]:
    """Whether the text-to-SQL model's answer to each generated question returns the same
    result as the synthetic SQL. ``answer`` maps pairs to SQL (a stub in tests)."""
    sqls = answer(pairs)
    verdicts = []
    for p, sql in zip(pairs, sqls):
        gold = execute(p.db_path, p.sql, timeout_s=timeout)
        pred = execute(p.db_path, sql, timeout_s=timeout) if sql else None
        verdicts.append(bool(gold.ok and pred is not None and pred.ok and results_match(
            gold.rows, pred.rows, order_matters(p.sql))))
    return verdicts


def model_answerer(lm, slots: int = 8, max_new_tokens: int = 160, sample_values: int = 0):
    """``answer`` for ``round_trip`` backed by a text-to-SQL model; ``emit(i, sql)`` is called
    as each answer arrives (so a caller can save progress)."""
    from alignsql.models.engines import as_engine
    from alignsql.models.extract import extract_sql
    from alignsql.models.generate import GenOptions, Request
    from alignsql.models.prompts import PromptOptions, build

    engine = as_engine(lm)

    def answer(pairs: Sequence[Pair], emit: Callable[[int, str], None] = lambda i, s: None
               ) -> list[str]:
        opts = PromptOptions(sample_values=sample_values)
        reqs = []
        for i, p in enumerate(pairs):
            pr = build(Example(p.question, p.sql, p.db_id), p.schema, engine.tokenizer, opts)
            reqs.append(Request(i, pr.text, pr.prefix))
        reqs.sort(key=lambda r: r.prefix)
        out = [""] * len(pairs)
        for key, gens in engine.stream(reqs, GenOptions(max_new_tokens=max_new_tokens), slots):
            out[key] = extract_sql(gens[0].text)
            emit(key, out[key])
        return out
    return answer
