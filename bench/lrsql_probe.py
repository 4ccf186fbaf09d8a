"""Peak training memory of one LR-SQL stage or of full-schema SFT, in a fresh process (its max
RSS is its own): the same base model, LoRA settings, batch size and steps as the LR-SQL
config, on that stage's longest samples (the worst case a run meets; the peak of a long run
is reached by its longest batch, so a few steps on the longest samples measure it).

    python bench/lrsql_probe.py {full,link,sqlgen} OUT_DIR BATCH [release] [--config YAML]
        -> OUT_DIR/probe_<stage>_b<BATCH>[_release].json   (default config: SmolLM2's)

"release" trains with release_memory=true (glibc's mmap threshold pinned: freed activations go
back to the system, so RSS follows what the step really holds; alignsql.train.memory).
A watchdog stops the probe when its resident memory passes LIMIT_MB or the machine has less
than MIN_FREE_MB available (other runs share it): the result then says "exceeded", with the
memory reached so far (a lower bound of the peak).

Run by bench/lrsql_bench.py. sqlgen uses the link model's tables for the training questions
when OUT_DIR/lrsql_fk/linked_train.json exists (what the real stage trains on), else the gold
tables plus as many other tables as its prompt budget holds (the longest samples the stage can
meet; said in the result).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alignsql import config
from alignsql.data.merge import gold_tables
from alignsql.lrsql.config import LRSQLConfig
from alignsql.lrsql.data import link_records, sqlgen_records, sub_schema
from alignsql.lrsql.run import prepare, train_stage
from alignsql.models.loading import load_tokenizer
from alignsql.models.prompts import PromptOptions, build, completion
from alignsql.train.callbacks import peak_rss_mb
from alignsql.train.data import tokenize

CONFIG = "configs/lrsql/smollm2-135m_lora.yaml"
STEPS = 2  # step 1 allocates the optimizer state, step 2 is the steady state
NO_LIMIT = 1_000_000
LIMIT_MB = 16_000
MIN_FREE_MB = 1_500


def available_mb() -> float:
    with open("/proc/meminfo") as fh:
        rows = dict(line.split(":", 1) for line in fh)
    return int(rows["MemAvailable"].split()[0]) / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def watchdog(path: Path, result: dict) -> None:
    """Stop the process once it holds more than LIMIT_MB, recording that it did."""
    while True:
        if rss_mb() > LIMIT_MB or available_mb() < MIN_FREE_MB:
            path.write_text(json.dumps({**result, "exceeded": True, "peak_rss_mb": rss_mb(),
                                        "limit_mb": LIMIT_MB, "min_free_mb": MIN_FREE_MB,
                                        "available_mb": available_mb()}, indent=2))
            os._exit(3)
        time.sleep(0.2)


def filled(ex, schema, tok, opts: PromptOptions) -> list[str]:
    """The question's gold tables plus other tables, in schema order, while the SQL
    generator's prompt stays within its budget: the longest sample a link model's picks can
    give it (the peak memory of a batch-1 step grows with its length)."""
    names = sorted(gold_tables(ex, schema) or set())
    for table in schema.tables:
        if table.name in names:
            continue
        if not build(ex, sub_schema(schema, [*names, table.name]), tok, opts).over_budget:
            names.append(table.name)
    return names


def records(stage: str, cfg: LRSQLConfig, out: Path, tok) -> tuple[list[dict], int, str]:
    """The stage's training samples, its max length, and where the linked tables came from."""
    merged, train_q, _, slicing = prepare(cfg, None, tok)
    skipped: Counter = Counter()
    if stage == "full":
        opts = PromptOptions(sample_values=0, max_prompt_tokens=NO_LIMIT)
        prompts = [(build(ex, merged.schema, tok, opts), ex) for ex in train_q]
        recs = [{"prompt": p.text, "prefix": p.prefix, "completion": completion(ex.sql)}
                for p, ex in prompts]
        return tokenize(recs, tok, NO_LIMIT, skipped, "full"), NO_LIMIT, ""
    if stage == "link":
        recs = link_records(train_q, merged.schema, slicing, tok, skipped)
        return tokenize(recs, tok, cfg.slice_tokens, skipped, "link"), cfg.slice_tokens, ""
    linked_file = out / "lrsql_fk" / "linked_train.json"
    linked = json.loads(linked_file.read_text()) if linked_file.exists() else {}
    opts = PromptOptions(sample_values=0, max_prompt_tokens=cfg.sqlgen_prompt_tokens)
    if linked:  # the questions the fk run trained its generator on
        train_q = [ex for ex in train_q if ex.id in linked]
        source = "link model"
    else:  # no trained link model here: the longest samples the stage can meet instead
        train_q = train_q[:cfg.batch_size * cfg.grad_accum * STEPS]
        linked = {ex.id: filled(ex, merged.schema, tok, opts) for ex in train_q}
        source = "gold tables plus other tables up to the prompt budget (the stage's cap)"
    recs = sqlgen_records(train_q, merged.schema, linked, tok, opts, skipped)
    return (tokenize(recs, tok, cfg.sqlgen_max_length, skipped, "sqlgen"), cfg.sqlgen_max_length,
            source)


def main(stage: str, out: Path, batch: int, release: bool, config_path: str = CONFIG) -> None:
    name = f"probe_{stage}_b{batch}" + ("_release" if release else "")
    cfg = config.load_yaml(LRSQLConfig, config_path, [f"name={name}", f"output_dir={out}",
                                                 f"max_steps={STEPS}", f"batch_size={batch}",
                                                 f"release_memory={str(release).lower()}"])
    tok = load_tokenizer(cfg.model)
    recs, max_length, linked_from = records(stage, cfg, out, tok)
    count = lambda r: len(tok(r["prompt"] + r["completion"], add_special_tokens=False)["input_ids"])
    lengths = sorted(((count(r), i) for i, r in enumerate(recs)), reverse=True)
    longest = [recs[i] for _, i in lengths[:cfg.batch_size * cfg.grad_accum * STEPS]]
    # (batch 1: no padding, so only the samples' own lengths set the memory; the sqlgen
    # stage's max_length stays above its prompt budget, as the config requires)
    floor = cfg.sqlgen_prompt_tokens + 1 if stage == "sqlgen" else 0
    max_length = min(max_length, max(lengths[0][0] + 1, floor))
    result = {"stage": stage, "rss_before_training_mb": peak_rss_mb(), "n_samples": len(recs),
              "tokens_per_sample": sum(n for n, _ in lengths) / len(recs),
              "max_tokens": lengths[0][0], "probe_tokens_per_sample":
              sum(n for n, _ in lengths[:len(longest)]) / len(longest),
              "steps": STEPS, "batch_size": cfg.batch_size, "linked_tables_from": linked_from,
              "release_memory": release, "exceeded": False}
    path = out / f"{name}.json"
    shutil.rmtree(out / name, ignore_errors=True)  # a leftover model would skip the training
    threading.Thread(target=watchdog, args=(path, result), daemon=True).start()
    start = time.perf_counter()
    train_stage(cfg, stage, longest, max_length, resume=False)
    result.update(peak_rss_mb=peak_rss_mb(), seconds=time.perf_counter() - start)
    path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["full", "link", "sqlgen"])
    ap.add_argument("out", type=Path)
    ap.add_argument("batch", type=int)
    ap.add_argument("release", nargs="?", choices=["release"])
    ap.add_argument("--config", default=CONFIG)
    a = ap.parse_args()
    main(a.stage, a.out, a.batch, a.release == "release", a.config)
