"""The one prompt module: inference and training render prompts here, so they never drift.

A prompt is the schema as CREATE TABLE statements (primary and foreign keys, optionally a few
distinct values per column), BIRD's evidence when present, optional examples, and the
question; rendered with the model's chat template when it has one. The assistant turn is
opened with a ```sql fence, so the model writes SQL at once and generation stops at the
closing fence; training completions are ``SQL + "\\n```"`` after the same prompt.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from alignsql.data.example import Example, Schema, Table
from alignsql.data.schema import table_ddl

SYSTEM = "You are an expert in SQLite. Answer with one SQL query only."
ANSWER_PREFIX = "```sql\n"
ANSWER_SUFFIX = "\n```"


@dataclass
class PromptOptions:
    sample_values: int = 3
    """Distinct example values shown per column (0 = none); dropped first when over budget."""
    max_prompt_tokens: int = 2048
    """Token budget of the prompt; least relevant tables are dropped to meet it."""
    include_evidence: bool = True
    """Include BIRD's evidence (external knowledge) when the example has it."""
    dialect: str = "sqlite"


@dataclass
class Prompt:
    text: str
    n_tokens: int
    prefix: str
    """The part shared by every question on the same schema (system turn, schema, examples):
    generation reuses its KV cache."""
    tables: list[str]
    dropped_tables: list[str] = field(default_factory=list)
    dropped_samples: bool = False
    over_budget: bool = False
    """True when even one table and no sample values exceed the budget."""


def _table_text(schema: Schema, table: Table, samples: int, dialect: str) -> str:
    ddl = table_ddl(schema, table, dialect) + ";"
    if samples <= 0:
        return ddl
    shown = [f"{c.name}: {', '.join(v for v in c.samples[:samples])}"
             for c in table.columns if c.samples]
    return ddl + ("\n/* values: " + "; ".join(shown) + " */" if shown else "")


def _words(text: str) -> set[str]:
    """Lower-cased words of a question or a name, crudely singularised ("singers" ~ "singer");
    snake_case and CamelCase names split into words."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    words = (w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if len(w) > 1)
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def relevance(question: str, table: Table) -> float:
    """Share of the question's words found in the table's or its columns' names (used only to
    decide which tables to drop first when a schema does not fit)."""
    q = _words(question)
    names = _words(table.name) | {w for c in table.columns for w in _words(c.name)}
    return len(q & names) / (len(q) or 1) + (0.5 if _words(table.name) & q else 0.0)


def question_block(ex: Example, opts: PromptOptions) -> str:
    """The per-question end of the user turn (everything before it is shared per schema)."""
    evidence = f"Evidence: {ex.evidence}\n" if opts.include_evidence and ex.evidence else ""
    return f"{evidence}Question: {ex.question}\nWrite one SQLite query that answers the question."


def user_message(ex: Example, schema_text: str, shots: Sequence[Example],
                 opts: PromptOptions) -> str:
    parts = [f"Database schema:\n{schema_text}"]
    if shots:
        parts.append("Examples:\n" + "\n".join(f"Q: {s.question}\nSQL: {s.sql}" for s in shots))
    parts.append(question_block(ex, opts))
    return "\n\n".join(parts)


def render_chat(tokenizer, user: str, system: str = SYSTEM, opening: str = ANSWER_PREFIX) -> str:
    """Chat template when the tokenizer has one, else a plain layout; ends with ``opening``
    (for SQL, the open fence)."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = f"{system}\n\n{user}\n\nAnswer:\n"
    return text + opening


def build(ex: Example, schema: Schema | None, tokenizer, opts: PromptOptions,
          shots: Sequence[Example] = (),
          count: Callable[[str], int] | None = None) -> Prompt:
    """Render within the token budget: full schema with values, then without values, then
    dropping the least relevant tables one by one (never cutting a statement in half)."""
    count = count or (lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"]))
    tables = list(schema.tables) if schema else []
    ranked = sorted(tables, key=lambda t: relevance(ex.question, t))  # least relevant first
    samples, dropped = opts.sample_values, []

    def render(keep: list[Table], n_samples: int) -> str:
        text = "\n".join(_table_text(schema, t, n_samples, opts.dialect) for t in keep) if schema else ""
        return render_chat(tokenizer, user_message(ex, text, shots, opts))
    keep = tables
    text = render(keep, samples)
    n = count(text)
    while n > opts.max_prompt_tokens:
        if samples > 0:
            samples = 0
        elif len(keep) > 1:
            victim = next(t for t in ranked if t in keep)
            keep = [t for t in keep if t is not victim]
            dropped.append(victim.name)
        else:
            return _prompt(text, n, ex, opts, keep, dropped, True, over_budget=True)
        text = render(keep, samples)
        n = count(text)
    return _prompt(text, n, ex, opts, keep, dropped, samples < opts.sample_values)


def _prompt(text: str, n: int, ex: Example, opts: PromptOptions, keep: list[Table],
            dropped: list[str], dropped_samples: bool, over_budget: bool = False) -> Prompt:
    cut = text.rfind(question_block(ex, opts))
    return Prompt(text, n, text[:cut] if cut > 0 else "", [t.name for t in keep], dropped,
                  dropped_samples, over_budget)


def completion(sql: str) -> str:
    """The training target that follows a prompt: the SQL and the closing fence."""
    return sql.strip().rstrip(";").strip() + ANSWER_SUFFIX



def split_tokens(tokenizer, text: str, prefix: str = "") -> tuple[list[int], list[int]]:
    """The token ids of a prompt as (shared prefix, rest): the prefix and the rest are
    tokenized separately, as generation does when it reuses the prefix's KV cache, so training
    and inference see the same ids. The rest is never empty (its first token predicts nothing;
    the loss starts after it), so a prefix that is the whole prompt gives up its last token."""
    if not prefix or not text.startswith(prefix):
        prefix = ""
    encode = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"] if s else []  # noqa: E731
    head, rest = encode(prefix), encode(text[len(prefix):])
    if not rest:
        head, rest = head[:-1], head[-1:]
    return head, rest


def prompt_format() -> dict:
    """The prompt layout as data, for tools that ask a fine-tuned model without this code
    (prompt.json of a merged model, ``alignsql.prompt`` in an exported GGUF)."""
    from alignsql.models.generate import STOP_STRINGS
    return {
        "system": SYSTEM,
        "user": "Database schema:\n{schema}\n\n{examples}Evidence: {evidence}\nQuestion: "
                "{question}\nWrite one SQLite query that answers the question.",
        "schema": "one CREATE TABLE statement per table (primary and foreign keys), each "
                  "ending in ';', followed by '/* values: column: v1, v2, v3; ... */' with up "
                  "to sample_values distinct values per column; tables joined by newlines",
        "examples": "optional: 'Examples:\\n' then 'Q: ...\\nSQL: ...' lines, then a blank line",
        "evidence": "the line 'Evidence: ...' only when the question has evidence",
        "chat": "system and user turns through the model's chat template with the generation "
                "prompt, then the assistant text starts with answer_prefix",
        "answer_prefix": ANSWER_PREFIX,
        "stop": list(STOP_STRINGS),
        "over_budget": "drop the sample values first, then the tables sharing the fewest words "
                       "with the question, until the prompt fits max_prompt_tokens",
    }
