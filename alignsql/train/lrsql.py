"""LR-SQL training data: the schema-link samples per (question, slice) and the SQL-generation
samples over the linked tables only. Both are prompt/completion records for the SFT trainer."""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from alignsql.data.example import Example, Schema
from alignsql.data.merge import gold_tables
from alignsql.errors import AlignSQLError
from alignsql.models.prompts import PromptOptions, build, completion
from alignsql.models.schema_link import (
    NONE,
    link_answer,
    link_head,
    link_user,
    render_link,
    shared_prefix,
)
from alignsql.models.slicing import Slicing
from alignsql.train.config import SFTConfig


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


@dataclass
class LRSQLConfig:
    name: str = "lrsql"
    """Run name: outputs go to <output_dir>/<name>/ (link/, sqlgen/, eval/)."""
    output_dir: str = "runs"
    """Folder that holds run directories."""
    model: str = "smollm2-135m"
    """Base model of both stages (one fine-tune each)."""
    dataset: str = "spider:train"
    """Whose databases are merged into one large schema, with their questions."""
    min_tables: int = 150
    """Merge databases until the schema has at least this many tables."""
    prefix: bool = False
    """Prefix every table with its database (default: only names that collide)."""
    n_train: int = 300
    """Questions to train on (a seeded sample of the merged questions)."""
    n_test: int = 100
    """Held-out questions to evaluate on (disjoint from the training ones)."""
    slice_tokens: int = 1024
    """Token budget of one schema-link prompt; slices hold slice_tokens - reserve."""
    reserve: int = 256
    """Tokens kept free in a slice prompt for instructions, question, hint and answer."""
    slicing: str = "fk"
    """fk (foreign-key components kept together, keyed tables first) or random (ablation)."""
    none_per_positive: float | None = 2.0
    """Schema-link samples answering "none" kept per sample that names a table (a seeded
    choice; null keeps all). Most (question, slice) pairs hold no gold table, and a short run
    on all of them learns to answer "none" everywhere."""
    sqlgen_max_length: int = 768
    """Training sequence length of the SQL-generation model; its prompts (training and
    inference alike) get sqlgen_max_length - 160 tokens."""
    method: str = "lora"
    """lora or full, for both stages."""
    learning_rate: float = 2e-4
    """Peak learning rate of both stages."""
    max_steps: int = 60
    """Optimizer steps of each stage."""
    batch_size: int = 4
    """Examples per step."""
    grad_accum: int = 1
    """Steps per optimizer update."""
    group_size: int = 16
    """Most examples sharing a prompt prefix (a slice's tables; a schema) trained as one group,
    the prefix computed once (alignsql.train.prefix); capped by batch_size."""
    group_max_tokens: int = 4096
    """Most tokens of one group's packed row."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass: the memory budget is the point of LR-SQL,
    and on long prompts activations, not weights, dominate training memory."""
    release_memory: bool = False
    """CPU only: give freed tensors back to the system at once (see alignsql.train.memory)."""
    dtype: str = "bf16"
    """bf16 (autocast) or fp32."""
    device: str = "auto"
    """auto, cpu or cuda."""
    gen_batch_size: int = 8
    """Batch size of the inference walk and SQL generation (hf engine)."""
    backend: str = "auto"
    """Engine of the walk and the SQL generation: auto (vllm where installed, else hf), hf
    or vllm."""
    seed: int = 0
    """Seed of the question split and of training."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "hf", "vllm"):
            raise AlignSQLError(f"backend must be auto, hf or vllm, not {self.backend!r}")
        if self.slicing not in ("fk", "random"):
            raise AlignSQLError(f"slicing must be fk or random, not {self.slicing!r}")
        if self.none_per_positive is not None and self.none_per_positive < 0:
            raise AlignSQLError("none_per_positive must be >= 0 or null")
        if self.reserve >= self.slice_tokens:
            raise AlignSQLError("reserve must be smaller than slice_tokens")

    @property
    def sqlgen_prompt_tokens(self) -> int:
        """The SQL generator's prompt budget, at training and at inference."""
        return self.sqlgen_max_length - 160

    def stage(self, stage: str, max_length: int) -> SFTConfig:
        """The SFT settings of one stage (its own run directory under this run)."""
        return SFTConfig(name=f"{self.name}/{stage}", output_dir=self.output_dir, model=self.model,
                         train=[], method=self.method, learning_rate=self.learning_rate,
                         max_steps=self.max_steps, batch_size=self.batch_size,
                         grad_accum=self.grad_accum, dtype=self.dtype, device=self.device,
                         group_size=self.group_size,
                         group_max_tokens=max(self.group_max_tokens, max_length),
                         max_prompt_tokens=self.sqlgen_prompt_tokens if stage == "sqlgen"
                         else None,
                         gradient_checkpointing=self.gradient_checkpointing,
                         release_memory=self.release_memory,
                         seed=self.seed, max_length=max_length, sample_values=0,
                         val_fraction=0.0, save_steps=max(10, self.max_steps // 3),
                         data_root=self.data_root)


def split_questions(examples: Sequence[Example], n_train: int, n_test: int,
                    seed: int) -> tuple[list[Example], list[Example]]:
    rows = list(range(len(examples)))
    random.Random(seed).shuffle(rows)
    if n_train + n_test > len(rows):
        raise AlignSQLError(f"{len(rows)} questions, fewer than n_train + n_test = "
                            f"{n_train + n_test}")
    return ([examples[r] for r in rows[:n_train]],
            [examples[r] for r in rows[n_train:n_train + n_test]])

