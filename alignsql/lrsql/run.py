"""LR-SQL end to end: merge the databases, slice the schema, fine-tune the schema-link model on
(question, slice) samples, link the training questions with it, fine-tune the SQL generator on
the linked tables, then walk the slices and generate SQL for held-out questions.

    prepare -> link stage -> link the training set -> sqlgen stage -> predict -> evaluate
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alignsql.data import registry
from alignsql.data.example import Dataset
from alignsql.data.merge import Merged, gold_tables, merge
from alignsql.errors import AlignSQLError
from alignsql.eval.evaluate import evaluate
from alignsql.eval.tables import table_metrics
from alignsql.lrsql.config import LRSQLConfig
from alignsql.lrsql.data import (
    balance_none,
    link_records,
    split_questions,
    sqlgen_records,
    sub_schema,
)
from alignsql.lrsql.link import walk
from alignsql.lrsql.slicing import Slicing, slice_schema
from alignsql.models.engines import open_engine
from alignsql.models.extract import extract_sql
from alignsql.models.generate import GenOptions, Request
from alignsql.models.loading import load, load_tokenizer
from alignsql.models.prompts import PromptOptions, build
from alignsql.paths import home
from alignsql.train import sft
from alignsql.train.callbacks import read_metrics, train_seconds
from alignsql.train.checkpoint import (
    kept_for,
    model_stamp,
    run_dir,
    save_config,
    save_merged,
    write_json,
)
from alignsql.train.config import on_device
from alignsql.train.data import TrainingData, tokenize


def prepare(cfg: LRSQLConfig, ds: Dataset | None, tokenizer):
    ds = ds or registry.load(cfg.dataset, cfg.data_root)
    merged = merge(ds, home() / "cache" / "merged" / f"{ds.name.replace(':', '_')}_"
                   f"{cfg.min_tables}_{int(cfg.prefix)}.sqlite", cfg.min_tables, cfg.prefix)
    train_q, test_q = split_questions(merged.dataset.examples, cfg.n_train, cfg.n_test, cfg.seed)
    count = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])
    slicing = slice_schema(merged.schema, count, cfg.slice_tokens - cfg.reserve, cfg.slicing,
                           cfg.seed)
    return merged, train_q, test_q, slicing


def train_stage(cfg: LRSQLConfig, stage: str, records: list[dict], max_length: int,
                resume: bool) -> Path:
    """One SFT stage on ready-made records; returns its merged model."""
    scfg = cfg.stage(stage, max_length)
    out = Path(scfg.output_dir) / scfg.name
    if (out / "merged" / "config.json").exists():
        return out / "merged"
    out = run_dir(scfg.output_dir, scfg.name, resume=True)
    save_config(scfg, out)
    lm = load(cfg.model, dtype="fp32", device=cfg.device)
    data = TrainingData(records, [], {stage: len(records)})
    trainer, result, _ = sft.fit(scfg, out, lm, data, resume)
    write_json(out / "summary.json", {"steps": result.global_step, "n_records": len(records),
                                      "train_loss": result.training_loss,
                                      # over every process of a resumed stage
                                      "train_seconds": train_seconds(
                                          read_metrics(out / "metrics.jsonl"))})
    return save_merged(trainer.model, lm.tokenizer, out, sft.prompt_settings(scfg))


def _generator(model: Path, cfg: LRSQLConfig, max_new_tokens: int) -> tuple[Callable, object]:
    """``gen(prompts, prefix=None) -> replies`` on the configured engine (``backend``; the
    hf batcher uses ``gen_batch_size`` slots); a shared ``prefix`` is prefilled once."""
    engine = open_engine(cfg.backend, str(model), cfg.dtype, cfg.device)
    opts = GenOptions(max_new_tokens=max_new_tokens)

    def gen(prompts: list[str], prefix: str | list[str] | None = None) -> list[str]:
        prefixes = prefix if isinstance(prefix, list) else [prefix or ""] * len(prompts)
        reqs = [Request(i, text, pre) for i, (text, pre) in enumerate(zip(prompts, prefixes))]
        got = dict(engine.stream(reqs, opts, cfg.gen_batch_size))
        return [got[i][0].text for i in range(len(prompts))]
    return gen, engine.tokenizer


def link(model: Path, examples, merged: Merged, slicing: Slicing, cfg: LRSQLConfig,
         log: Callable[[str], None] = lambda _: None, parts_dir: Path | None = None):
    """The walk over the slices with ``model``. With ``parts_dir``, each part's replies are
    kept there, so a killed walk (minutes a part on a CPU) resumes at its first unkept part;
    a kept part is reused only for the same model and the very same prompts."""
    gen, tok = _generator(model, cfg, max_new_tokens=48)
    parts = len(slicing.slices)
    done = iter(range(1, parts + 1))

    def logged(prompts: list[str], prefix: str | None = None) -> list[str]:
        part = next(done)
        key = {"model": model_stamp(model), "prefix": prefix, "prompts": prompts}
        path = parts_dir / f"part{part}.json" if parts_dir else None
        replies = (kept_for(path, key) or {}).get("replies") if path else None
        if isinstance(replies, list) and len(replies) == len(prompts):
            log(f"part {part} of {parts}: kept from an earlier process")
            return replies
        replies = gen(prompts, prefix)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, {**key, "replies": replies})
        log(f"linked {len(prompts)} questions on part {part} of {parts}")
        return replies
    return walk(examples, merged.schema, slicing, tok, logged)


def linked_training_set(out: Path, link_model: Path, train_q, merged: Merged, slicing: Slicing,
                        cfg: LRSQLConfig, log: Callable[[str], None]) -> dict[str, list[str]]:
    """The link model's tables for each training question (kept in the run directory: the
    walk over every slice is the slow part of a resumed run)."""
    path = out / "linked_train.json"
    if path.exists():
        return json.loads(path.read_text())
    on_train = link(link_model, train_q, merged, slicing, cfg, log, out / "linked_train_parts")
    linked = {ex.id: r.tables for ex, r in zip(train_q, on_train)}
    write_json(path, linked)
    return linked


def generate_sql(model: Path, examples, merged: Merged, linked: dict[str, list[str]],
                 cfg: LRSQLConfig) -> dict[str, str]:
    gen, tok = _generator(model, cfg, max_new_tokens=160)
    opts = PromptOptions(sample_values=0, max_prompt_tokens=cfg.sqlgen_prompt_tokens)
    prompts = [build(ex, sub_schema(merged.schema, linked.get(ex.id) or []), tok, opts)
               for ex in examples]
    replies = gen([p.text for p in prompts], [p.prefix for p in prompts])
    return {ex.id: extract_sql(reply) for ex, reply in zip(examples, replies)}


def _score(test_q, merged: Merged, preds: dict[str, str], tables: dict[str, list[str]],
           out: Path) -> dict:
    """EX and table metrics of one way of answering the test questions (files under ``out``);
    EX is None when the schema has no database to execute on."""
    out.mkdir(parents=True, exist_ok=True)
    accuracy = n_scored = None
    if merged.dataset.db_path("merged"):
        _, summary = evaluate(test_q, preds, merged.dataset.db_paths, workers=1,
                              results_path=out / "results.jsonl")
        accuracy, n_scored = summary.ex, summary.n_scored
    gold = [gold_tables(ex, merged.schema) or set() for ex in test_q]
    with open(out / "preds.jsonl", "w") as fh:  # gold tables too: per-question scores, intervals
        fh.writelines(json.dumps({"id": ex.id, "sql": preds[ex.id], "tables": tables[ex.id],
                                  "gold_tables": sorted(g)}) + "\n"
                      for ex, g in zip(test_q, gold))
    metrics = table_metrics(gold, [set(tables[ex.id]) for ex in test_q])
    return {"table_metrics": metrics, "ex": accuracy, "n_test": len(test_q),
            "n_scored": n_scored}


def full_schema_sql(model: str, examples, merged: Merged, cfg: LRSQLConfig
                    ) -> tuple[dict[str, str], int]:
    """SQL generated over every table of the schema (none dropped, so all prompts share one
    prefix whose KV cache is computed once); also the prompt length in tokens."""
    gen, tok = _generator(Path(model), cfg, max_new_tokens=160)
    opts = PromptOptions(sample_values=0, max_prompt_tokens=1 << 20)
    prompts = [build(ex, merged.schema, tok, opts) for ex in examples]
    replies = gen([p.text for p in prompts], prompts[0].prefix)
    return ({ex.id: extract_sql(r) for ex, r in zip(examples, replies)},
            max(p.n_tokens for p in prompts))


def baseline(cfg: LRSQLConfig, model: str | None = None, ds: Dataset | None = None,
             log: Callable[[str], None] = lambda _: None) -> dict:
    """The comparison LR-SQL is judged against, with one model (default: the untrained base
    model; a full-schema fine-tune is what the memory budget rules out) on the run's test
    questions: the LR-SQL pipeline (walk over the slices, SQL over the linked tables) against
    the full schema (a link prompt holding every table as its only part, and SQL generated
    over every table). Written to <run>/baseline/<model>/summary.json."""
    model = model or cfg.model
    out = run_dir(cfg.output_dir, cfg.name, resume=True) / "baseline" / Path(model).name
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    tok = load_tokenizer(model)
    merged, _, test_q, slicing = prepare(cfg, ds, tok)
    whole = Slicing([[t.name for t in merged.schema.tables]], slicing.costs, 0)
    result: dict = {"model": model, "n_tables": len(merged.schema.tables)}
    for name, parts in (("sliced", slicing), ("full_schema", whole)):
        if (out / name / "summary.json").exists():  # resumed: this half is done
            result.update(json.loads((out / name / "summary.json").read_text()))
            continue
        log(f"{model}: linking {len(test_q)} questions over {len(parts.slices)} part(s)")
        walked = link(Path(model), test_q, merged, parts, cfg, log, out / name / "link_parts")
        linked = {ex.id: r.tables for ex, r in zip(test_q, walked)}
        if name == "sliced":
            sql = generate_sql(Path(model), test_q, merged, linked, cfg)
        else:
            log(f"{model}: SQL over all {len(merged.schema.tables)} tables")
            sql, n_tokens = full_schema_sql(model, test_q, merged, cfg)
        part = {name: _score(test_q, merged, sql, linked, out / name),
                **({"full_schema_prompt_tokens": n_tokens} if name == "full_schema" else {})}
        write_json(out / name / "summary.json", part)
        result.update(part)
    write_json(out / "summary.json", result)
    return result


def run(cfg: LRSQLConfig, resume: bool = False, ds: Dataset | None = None,
        log: Callable[[str], None] = lambda _: None) -> dict:
    cfg = on_device(cfg, log)
    out = run_dir(cfg.output_dir, cfg.name, resume)
    save_config(cfg, out)
    tok = load_tokenizer(cfg.model)
    merged, train_q, test_q, slicing = prepare(cfg, ds, tok)
    log(f"{len(merged.schema.tables)} tables in {len(slicing.slices)} slices; "
        f"{len(train_q)} training and {len(test_q)} test questions")
    skipped: Counter = Counter(merged.skipped)
    links = tokenize(link_records(train_q, merged.schema, slicing, tok, skipped),
                     tok, cfg.slice_tokens, skipped, "link")
    if not links:
        raise AlignSQLError(f"no link sample fits {cfg.slice_tokens} tokens: raise slice_tokens "
                            f"or reserve")
    links, left_out = balance_none(links, cfg.none_per_positive, cfg.seed)
    key = f"link: 'none' samples left out (none_per_positive={cfg.none_per_positive})"
    skipped[key] += left_out
    link_model = train_stage(cfg, "link", links, cfg.slice_tokens, resume)
    linked_train = linked_training_set(out, link_model, train_q, merged, slicing, cfg, log)
    sqlgen = sqlgen_records(train_q, merged.schema, linked_train, tok,
                            PromptOptions(sample_values=0,
                                          max_prompt_tokens=cfg.sqlgen_prompt_tokens), skipped)
    sqlgen = tokenize(sqlgen, tok, cfg.sqlgen_max_length, skipped, "sqlgen")
    if not sqlgen:
        raise AlignSQLError(f"no sqlgen sample fits {cfg.sqlgen_max_length} tokens")
    gen_model = train_stage(cfg, "sqlgen", sqlgen, cfg.sqlgen_max_length, resume)
    on_test = link(link_model, test_q, merged, slicing, cfg, log, out / "eval" / "link_parts")
    linked_test = {ex.id: r.tables for ex, r in zip(test_q, on_test)}
    preds = generate_sql(gen_model, test_q, merged, linked_test, cfg)
    scored = _score(test_q, merged, preds, linked_test, out / "eval")
    unknown = sum((r.unknown for r in on_test), Counter())
    result = {"n_tables": len(merged.schema.tables), "n_slices": len(slicing.slices),
              "oversize_tables": slicing.oversize, **scored,
              "unknown_table_names": sum(unknown.values()), "skipped": dict(skipped)}
    write_json(out / "summary.json", result)
    return result
