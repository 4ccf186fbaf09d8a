"""Full-schema SFT on the LR-SQL split: the baseline of the LR-SQL paper's EX claim (slicing costs
0.6 EX points against fine-tuning with the whole schema in the prompt).

The LR-SQL config's model, LoRA settings, batch and group size and one epoch, on the same
training questions, each prompt holding every table of the merged schema (no sample values,
as LR-SQL's stages); all prompts share the schema, so a group of questions computes it once.
The tuned model then writes SQL over every table for the run's held-out questions, scored
like the LR-SQL systems (alignsql.lrsql.run): EX, and table metrics of the tables its SQL
names. In its own process, so its max RSS is this run's.

    python bench/lrsql_full_sft.py OUT_DIR [--config YAML] [key=value ...]
        -> OUT_DIR/<name>/full_sft/summary.json and eval/{preds,results}.jsonl

Run by bench/lrsql_qwen.py --full-sft (resumable: training checkpoints, a finished summary).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lrsql_probe import records

from alignsql import config
from alignsql.data.merge import gold_tables
from alignsql.lrsql.config import LRSQLConfig
from alignsql.lrsql.run import _score, full_schema_sql, prepare, train_stage
from alignsql.models.loading import load_tokenizer
from alignsql.train.callbacks import logged_peak_mb, peak_rss_mb, read_metrics, train_seconds

CONFIG = "configs/lrsql/qwen2.5-coder-0.5b_lora.yaml"


def sql_tables(ex, sql: str, schema) -> list[str]:
    """The merged-schema tables a predicted query names (none when it does not parse)."""
    return sorted(gold_tables(dataclasses.replace(ex, sql=sql), schema) or [])


def main(out: Path, config_path: str, overrides: list[str]) -> dict:
    cfg = config.load_yaml(LRSQLConfig, config_path, [f"output_dir={out}", *overrides])
    folder = out / cfg.name / "full_sft"
    if (folder / "summary.json").exists():
        return json.loads((folder / "summary.json").read_text())
    tok = load_tokenizer(cfg.model)
    recs, _, _ = records("full", cfg, out, tok)
    body = max(len(r["rest_ids"]) + len(r["completion_ids"]) for r in recs)
    prefix = max(len(r["prefix_ids"]) for r in recs)
    longest = prefix + body
    # a packed row holds the schema once and up to group_size questions: room for all of them
    cfg = dataclasses.replace(cfg, group_max_tokens=max(cfg.group_max_tokens,
                                                        prefix + cfg.group_size * body))
    model = train_stage(cfg, "full", recs, longest + 1, resume=True)
    # the kept steps' training time over every process (a session's end kills and resumes it)
    rows = read_metrics(model.parent / "metrics.jsonl")
    train_s = train_seconds(rows)
    merged, _, test_q, _ = prepare(cfg, None, tok)
    sql, n_tokens = full_schema_sql(str(model), test_q, merged, cfg)
    tables = {ex.id: sql_tables(ex, sql[ex.id], merged.schema) for ex in test_q}
    result = {**_score(test_q, merged, sql, tables, folder / "eval"), "model": str(model),
              "n_train": len(recs), "prompt_tokens": n_tokens, "train_wall_s": train_s,
              # this process's, or the training's when it was trained in an earlier one
              "peak_rss_mb": logged_peak_mb(rows, peak_rss_mb()),
              "tables_from": "the tables each predicted query names"}
    (folder / "summary.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--config", default=CONFIG)
    ap.add_argument("overrides", nargs="*", help="key=value settings of the LR-SQL config")
    a = ap.parse_intermixed_args()  # OUT --config YAML key=value: overrides after the option
    print(json.dumps(main(a.out, a.config, a.overrides), indent=2))
