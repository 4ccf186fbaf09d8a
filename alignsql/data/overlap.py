"""Train/test contamination by question. Public text-to-SQL sets share questions across their
names: Spider's training set holds 564 GeoQuery questions (its `geo` database), and 113 of
geography:test's 279 questions appear there word for word. A model trained on them and scored
on them measures memory, not transfer.

A question's key is its text lower-cased with everything but letters, digits and spaces
removed and whitespace collapsed ("What is the biggest city in Kansas?" -> "what is the
biggest city in kansas"): exact-match decontamination, as n-gram overlap checks in LM
evaluation do at the whole-question level. Paraphrases are not caught.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from alignsql.data.example import Example


def question_key(question: str) -> str:
    kept = "".join(c if c.isalnum() or c.isspace() else " " for c in question.lower())
    return " ".join(kept.split())


def question_keys(examples: Iterable[Example]) -> set[str]:
    """Keys of the examples that have a question (SQL-only rows have none to leak)."""
    return {k for ex in examples if (k := question_key(ex.question or ""))}


def shared(examples: Sequence[Example], keys: set[str]) -> list[int]:
    """Positions of the examples whose question is among ``keys``."""
    return [i for i, ex in enumerate(examples) if question_key(ex.question or "") in keys]


def exclusion_keys(specs: Sequence[str], root: str | None = None) -> set[str]:
    """The question keys of every example of ``specs`` (dataset specs or file:PATH)."""
    from alignsql.data import registry
    keys: set[str] = set()
    for spec in specs:
        keys |= question_keys(registry.load(spec, root).examples)
    return keys
