"""LR-SQL training data: the schema-link samples per (question, slice) and the SQL-generation
samples over the linked tables only. Both are prompt/completion records for the SFT trainer."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from alignsql.data.example import Example, Schema
from alignsql.data.merge import gold_tables
from alignsql.models.prompts import PromptOptions, build, completion
from alignsql.models.schema_link import link_answer, link_user, render_link
from alignsql.models.slicing import Slicing


def sub_schema(schema: Schema, names: Sequence[str]) -> Schema:
    """The named tables (in schema order) and the foreign keys among them."""
    keep = {n.lower() for n in names}
    return Schema(schema.db_id, [t for t in schema.tables if t.name.lower() in keep],
                  [f for f in schema.foreign_keys
                   if f.table.lower() in keep and f.ref_table.lower() in keep])


def link_records(examples: Sequence[Example], schema: Schema, slicing: Slicing, tokenizer,
                 skipped: Counter) -> list[dict]:
    """Per question and slice: the gold tables in that slice (or "none"), once without the
    carried hint and, when earlier slices held gold tables, once with them as the hint."""
    out = []
    total = len(slicing.slices)
    for ex in examples:
        gold = gold_tables(ex, schema)
        if not gold:
            skipped["gold SQL names no table of the schema"] += 1
            continue
        carried: list[str] = []
        for i, tables in enumerate(slicing.slices):
            answer = link_answer([t for t in tables if t in gold])
            hints = [[]] + ([list(carried)] if carried else [])
            for hint in hints:
                prompt = render_link(tokenizer, link_user(ex, schema, tables, i, total, hint))
                out.append({"prompt": prompt, "completion": answer, "id": ex.id, "slice": i})
            carried.extend(t for t in tables if t in gold)
    return out


def sqlgen_records(examples: Sequence[Example], schema: Schema, linked: dict[str, list[str]],
                   tokenizer, opts: PromptOptions, skipped: Counter) -> list[dict]:
    """The gold tables plus whatever the schema-link model picked for that question (so the
    generator learns to ignore extra tables), then the gold SQL."""
    out = []
    for ex in examples:
        gold = gold_tables(ex, schema) or set()
        names = sorted(gold | set(linked.get(ex.id, [])))
        if not names:
            skipped["no tables to show"] += 1
            continue
        prompt = build(ex, sub_schema(schema, names), tokenizer, opts)
        if prompt.over_budget:
            skipped["prompt over budget"] += 1
            continue
        out.append({"prompt": prompt.text, "completion": completion(ex.sql), "id": ex.id})
    return out
