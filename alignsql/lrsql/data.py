"""LR-SQL training data: the schema-link samples per (question, slice) and the SQL-generation
samples over the linked tables only. Both are prompt/completion records for the SFT trainer."""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from alignsql.data.example import Example, Schema
from alignsql.data.merge import gold_tables
from alignsql.errors import AlignSQLError
from alignsql.lrsql.link import (
    NONE,
    link_answer,
    link_head,
    link_user,
    render_link,
    shared_prefix,
)
from alignsql.lrsql.slicing import Slicing
from alignsql.models.prompts import PromptOptions, build, completion


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
    # every question's prompt on a slice starts with the slice's tables: the shared prefix
    heads = [shared_prefix(tokenizer, link_head(schema, tables, i, total))
             for i, tables in enumerate(slicing.slices)]
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
                out.append({"prompt": prompt, "prefix": heads[i], "completion": answer,
                            "id": ex.id, "slice": i})
            carried.extend(t for t in tables if t in gold)
    return out


def balance_none(records: list[dict], per_positive: float | None, seed: int
                 ) -> tuple[list[dict], int]:
    """Keep every sample that names a table and at most ``per_positive`` times as many
    "none" samples (a seeded choice, original order kept); ``None`` keeps all. Returns the kept
    records and how many "none" samples were left out.

    Why: a question's gold tables sit in one or two slices, so with 12 slices ~94% of the
    samples answer "none" (merged Spider schema), and a short run on all of them learns to
    answer "none" everywhere (LR-SQL trains many epochs; a budget run sees a few positives)."""
    if per_positive is None:
        return records, 0
    none = [i for i, r in enumerate(records) if r["completion"] == NONE]
    n_pos = len(records) - len(none)
    keep_n = min(len(none), round(per_positive * n_pos))
    kept_none = set(random.Random(seed).sample(none, keep_n))
    kept = [r for i, r in enumerate(records) if r["completion"] != NONE or i in kept_none]
    return kept, len(none) - keep_n


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
        out.append({"prompt": prompt.text, "prefix": prompt.prefix,
                    "completion": completion(ex.sql), "id": ex.id})
    return out


def split_questions(examples: Sequence[Example], n_train: int, n_test: int,
                    seed: int) -> tuple[list[Example], list[Example]]:
    rows = list(range(len(examples)))
    random.Random(seed).shuffle(rows)
    if n_train + n_test > len(rows):
        raise AlignSQLError(f"{len(rows)} questions, fewer than n_train + n_test = "
                            f"{n_train + n_test}")
    return ([examples[r] for r in rows[:n_train]],
            [examples[r] for r in rows[n_train:n_train + n_test]])

