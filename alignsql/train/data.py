"""Training records: examples from dataset specs (sampled and mixed), rendered with the one
prompt module into prompt/completion pairs that fit ``max_length``. Shared by every trainer."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from alignsql.data import registry
from alignsql.data.example import Dataset, Example
from alignsql.data.overlap import exclusion_keys, question_keys, shared
from alignsql.errors import AlignSQLError
from alignsql.models.predict import schema_for
from alignsql.models.prompts import PromptOptions, build, completion, split_tokens


@dataclass
class TrainingData:
    train: list[dict]
    val: list[dict]
    sources: dict[str, int]
    """Examples taken from each spec."""
    skipped: Counter = field(default_factory=Counter)
    """Examples left out, by reason (too long even with a reduced schema, ...)."""
    shrunk: int = 0
    """Prompts whose schema lost sample values or tables to fit max_length."""
    question_keys: set[str] = field(default_factory=set)
    """Keys of the training questions (alignsql.data.overlap), to count an eval set's overlap."""
    refilled: int = 0
    """Examples drawn to replace over-long ones (``refill``)."""


def _per_source_counts(specs: list[str], sizes: list[int], mix: list[float],
                       n_train: int | None) -> list[int | None]:
    if sizes:
        return list(sizes)
    if mix:
        total = sum(mix)
        return [round(n_train * w / total) for w in mix]
    return [None] * len(specs)


def gather(specs: list[str], sizes: list[int], mix: list[float], n_train: int | None,
           seed: int, root: str | None, exclude: set[str] | None = None,
           skipped: Counter | None = None, with_db: bool = False
           ) -> list[tuple[Example, Dataset]]:
    """Seeded samples of each spec, each example with the dataset it came from. Examples whose
    question key is in ``exclude`` (alignsql.data.overlap), and with ``with_db`` those whose
    SQLite database is missing, are removed before sampling: a size means that many eligible
    examples, or all of them when fewer remain; how many were removed is added to
    ``skipped``."""
    out: list[tuple[Example, Dataset]] = []
    for spec, n in zip(specs, _per_source_counts(specs, sizes, mix, n_train)):
        ds, rows, _ = sample_spec(spec, n, seed, root, exclude, skipped, with_db)
        out.extend((ds.examples[r], ds) for r in rows)
    return out


def sample_spec(spec: str, n: int | None, seed: int, root: str | None,
                exclude: set[str] | None = None, skipped: Counter | None = None,
                with_db: bool = False) -> tuple[Dataset, list[int], list[int]]:
    """One spec's seeded sample of ``n`` eligible rows (all when ``n`` is None or covers
    them) and the eligible rows left over, in index order."""
    ds = registry.load(spec, root)
    rows = list(range(len(ds.examples)))
    if exclude:
        leaked = set(shared(ds.examples, exclude))
        rows = [r for r in rows if r not in leaked]
        if skipped is not None and leaked:
            skipped[f"{spec}: ineligible, question in an excluded set"] += len(leaked)
    if with_db:  # e.g. self-play, which judges by execution: a question without one is no use
        kept = [r for r in rows if ds.db_path(ds.examples[r].db_id) is not None]
        if skipped is not None and len(kept) < len(rows):
            skipped[f"{spec}: ineligible, no database"] += len(rows) - len(kept)
        rows = kept
    if n is not None and n < len(rows):
        chosen = sorted(random.Random(f"{seed}:{spec}").sample(rows, n))
        taken = set(chosen)
        return ds, chosen, [r for r in rows if r not in taken]
    if n is not None and n > len(ds.examples):
        raise AlignSQLError(f"{spec} has {len(ds.examples)} examples, fewer than the {n} "
                            f"asked for")
    # else all rows: any shortfall is the ineligible examples, counted in ``skipped``
    return ds, rows, []


def records(pairs: list[tuple[Example, Dataset]], tokenizer, max_prompt_tokens: int,
            sample_values: int, skipped: Counter) -> tuple[list[dict], int]:
    """Prompt/completion dicts (with the prompt's shared ``prefix``), every prompt rendered
    within the same budget that inference uses (the run's prompt.json records it)."""
    out, shrunk = [], 0
    count = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])
    opts = PromptOptions(sample_values=sample_values, max_prompt_tokens=max_prompt_tokens)
    for ex, ds in pairs:
        prompt = build(ex, schema_for(ds, ex.db_id, sample_values), tokenizer, opts, count=count)
        if prompt.over_budget:
            skipped["prompt over max_prompt_tokens even with one table"] += 1
            continue
        shrunk += bool(prompt.dropped_tables or prompt.dropped_samples)
        out.append({"prompt": prompt.text, "prefix": prompt.prefix,
                    "completion": completion(ex.sql), "id": ex.id,
                    "source": f"{ex.source}:{ex.split}"})
    return out, shrunk


def tokenize(recs: list[dict], tokenizer, max_length: int, skipped: Counter,
             what: str = "example") -> list[dict]:
    """Each record with ``prefix_ids``, ``rest_ids`` and ``completion_ids`` (the completion and
    the EOS), split as generation splits the prompt; records over ``max_length`` tokens are
    left out and counted (a truncated record would lose its answer)."""
    out = []
    for rec in recs:
        prefix_ids, rest_ids = split_tokens(tokenizer, rec["prompt"], rec.get("prefix", ""))
        done = tokenizer(rec["completion"], add_special_tokens=False)["input_ids"]
        done = done + [tokenizer.eos_token_id]
        if len(prefix_ids) + len(rest_ids) + len(done) > max_length:
            skipped[f"{what}: prompt + completion longer than max_length={max_length}"] += 1
            continue
        out.append({**rec, "prefix_ids": prefix_ids, "rest_ids": rest_ids,
                    "completion_ids": done})
    return out


def _fit(pairs: list[tuple[Example, Dataset]], cfg, tokenizer,
         skipped: Counter) -> tuple[list[dict], int]:
    """The records of ``pairs`` that fit ``max_length`` and how many prompts were shrunk."""
    recs, shrunk = records(pairs, tokenizer, cfg.prompt_budget, cfg.sample_values, skipped)
    return tokenize(recs, tokenizer, cfg.max_length, skipped), shrunk


def _refilled(spec: str, n: int, cfg, tokenizer, exclude: set[str] | None,
              skipped: Counter) -> tuple[list, list[dict], int, int]:
    """One spec's sample with every over-long example replaced by a further one (seeded order,
    never one already drawn) until ``n`` fit or the spec runs out; the long ones stay counted.
    Returns the examples drawn, the records kept, prompts shrunk and examples drawn as
    replacements."""
    ds, rows, rest = sample_spec(spec, n, cfg.seed, cfg.data_root, exclude, skipped)
    pairs = [(ds.examples[r], ds) for r in rows]
    recs, shrunk = _fit(pairs, cfg, tokenizer, skipped)
    random.Random(f"{cfg.seed}:{spec}:refill").shuffle(rest)
    drawn = 0
    while len(recs) < n and drawn < len(rest):
        more = [(ds.examples[r], ds) for r in rest[drawn:drawn + n - len(recs)]]
        drawn += len(more)
        more_recs, more_shrunk = _fit(more, cfg, tokenizer, skipped)
        pairs, recs, shrunk = pairs + more, recs + more_recs, shrunk + more_shrunk
    return pairs, recs, shrunk, drawn


def _examples(cfg, tokenizer, exclude: set[str] | None,
              skipped: Counter) -> tuple[list, list[dict], int, int]:
    """Every spec's sample (refilled when ``cfg.refill``), its fitting records, prompts shrunk
    and replacements drawn."""
    if not cfg.refill:
        pairs = gather(cfg.train, cfg.train_size, cfg.mix, cfg.n_train, cfg.seed, cfg.data_root,
                       exclude, skipped)
        return (pairs, *_fit(pairs, cfg, tokenizer, skipped), 0)
    pairs, recs, shrunk, drawn = [], [], 0, 0
    for spec, n in zip(cfg.train, cfg.train_size):
        p, r, s, d = _refilled(spec, n, cfg, tokenizer, exclude, skipped)
        pairs, recs, shrunk, drawn = pairs + p, recs + r, shrunk + s, drawn + d
    return pairs, recs, shrunk, drawn


def source_name(ex: Example, ds: Dataset) -> str:
    """Where an example came from, for ``data.json``: a file spec by its path (every file's
    examples are ``file:file``, so a run on two synthesis rounds would not tell them apart)."""
    return ds.name if ex.source == "file" else f"{ex.source}:{ex.split}"


def build_training_data(cfg, tokenizer) -> TrainingData:
    skipped: Counter = Counter()
    exclude = exclusion_keys(cfg.exclude, cfg.data_root) if cfg.exclude else None
    pairs, recs, shrunk, drawn = _examples(cfg, tokenizer, exclude, skipped)
    sources = dict(Counter(source_name(ex, ds) for ex, ds in pairs))
    if not recs:
        raise AlignSQLError(f"no training example fits max_length={cfg.max_length} "
                            f"({dict(skipped)}): raise max_length")
    random.Random(cfg.seed).shuffle(recs)
    n_val = int(len(recs) * cfg.val_fraction) if cfg.val_fraction else 0
    if cfg.val_fraction and n_val == 0 and len(recs) > 1:
        n_val = 1
    return TrainingData(recs[n_val:], recs[:n_val], sources, skipped, shrunk,
                        question_keys([ex for ex, _ in pairs]), drawn)
