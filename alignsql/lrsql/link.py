"""LR-SQL's schema-link step: the model sees one slice of the schema at a time, with the tables
it chose in earlier slices carried along as a hint (its "chain of thought"), and names the
tables the question needs. Prompts, reply parsing and the inference walk live here; the walk
takes any ``generate(prompts) -> replies`` function, so a stub can drive it in tests.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from alignsql.data.example import Example, Schema
from alignsql.data.schema import table_ddl
from alignsql.lrsql.slicing import Slicing

LINK_SYSTEM = "You link questions to the database tables needed to answer them."
NONE = "none"


def link_head(schema: Schema, slice_tables: Sequence[str], index: int, total: int) -> str:
    """The slice's part of a link prompt: the same for every question (a shared KV prefix)."""
    ddl = "\n".join(table_ddl(schema, schema.table(t)) + ";" for t in slice_tables)
    return f"Database tables, part {index + 1} of {total}:\n{ddl}\n\n"


def link_user(ex: Example, schema: Schema, slice_tables: Sequence[str], index: int, total: int,
              hint: Sequence[str]) -> str:
    carried = f"Tables chosen from earlier parts: {', '.join(hint)}\n" if hint else ""
    evidence = f"Evidence: {ex.evidence}\n" if ex.evidence else ""
    return (f"{link_head(schema, slice_tables, index, total)}{carried}{evidence}"
            f"Question: {ex.question}\nWhich tables of this part does the question need? Answer "
            f"with their names separated by commas, or {NONE}.")


def render_link(tokenizer, user: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": LINK_SYSTEM}, {"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{LINK_SYSTEM}\n\n{user}\n\nAnswer: "


def link_answer(tables: Sequence[str]) -> str:
    """The training target for one slice."""
    return ", ".join(tables) if tables else NONE


@dataclass
class Parsed:
    tables: list[str]
    unknown: list[str] = field(default_factory=list)
    """Names in the reply that are not tables of the slice (dropped, counted)."""


def parse_reply(reply: str, slice_tables: Sequence[str]) -> Parsed:
    """Table names of the slice named in a reply, in slice order; anything else is dropped."""
    first = reply.strip().split("\n\n")[0]
    words = [w.strip().strip("`'\".;:[]()").strip() for w in re.split(r"[,\n]", first)]
    words = [w for w in words if w and w.lower() != NONE]
    known = {t.lower(): t for t in slice_tables}
    hits = {known[w.lower()] for w in words if w.lower() in known}
    unknown = [w for w in words if w.lower() not in known]
    return Parsed([t for t in slice_tables if t in hits], unknown)


@dataclass
class LinkResult:
    tables: list[str]
    per_slice: list[list[str]]
    unknown: Counter = field(default_factory=Counter)


def shared_prefix(tokenizer, head: str) -> str:
    """The rendered prompt up to the end of the slice's tables: every question's link prompt
    for this slice starts with it (the chat template only wraps the user turn)."""
    mark = "\x00"
    rendered = render_link(tokenizer, head + mark)
    return rendered[:rendered.index(mark)]


def walk(examples: Sequence[Example], schema: Schema, slicing: Slicing, tokenizer,
         generate: Callable[[list[str], str], list[str]]) -> list[LinkResult]:
    """Slice by slice for all questions at once (one batch per slice), carrying each
    question's chosen tables into its next prompt. ``generate(prompts, prefix)`` gets the
    prefix all the slice's prompts share, so a model computes the slice's KV cache once."""
    results = [LinkResult([], []) for _ in examples]
    total = len(slicing.slices)
    for i, tables in enumerate(slicing.slices):
        prefix = shared_prefix(tokenizer, link_head(schema, tables, i, total))
        prompts = [render_link(tokenizer, link_user(ex, schema, tables, i, total, r.tables))
                   for ex, r in zip(examples, results)]
        for r, reply in zip(results, generate(prompts, prefix)):
            parsed = parse_reply(reply, tables)
            r.per_slice.append(parsed.tables)
            r.tables.extend(parsed.tables)
            r.unknown.update(parsed.unknown)
    return results
