"""The full-schema baseline of bench/lrsql_bench.py: SFT with every merged table in the prompt,
on the same training questions, steps and base model as LR-SQL; then EX on the same held-out
questions. Run by lrsql_bench.py in its own process (so its max RSS is its own)."""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from alignsql import config
from alignsql.eval.evaluate import evaluate
from alignsql.models.extract import extract_sql
from alignsql.models.loading import load
from alignsql.models.prompts import PromptOptions, build, completion
from alignsql.train.callbacks import peak_rss_mb
from alignsql.train.lrsql import LRSQLConfig
from alignsql.train.lrsql_run import _generator, fitting, prepare, train_stage

MAX_LENGTH = 12000


def main(out: Path) -> None:
    cfg = config.load_yaml(LRSQLConfig, "configs/lrsql/smollm2-135m_lora.yaml",
                           ["name=full_schema_sft", f"output_dir={out}"])
    base = load(cfg.model, dtype="fp32", device="cpu")
    merged, train_q, test_q, _ = prepare(cfg, None, base.tokenizer)
    opts = PromptOptions(sample_values=0, max_prompt_tokens=MAX_LENGTH - 200)
    records = [{"prompt": build(ex, merged.schema, base.tokenizer, opts).text,
                "completion": completion(ex.sql)} for ex in train_q]
    skipped: Counter = Counter()
    records = fitting(records, base.tokenizer, MAX_LENGTH, skipped, "full")
    count = lambda s: len(base.tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    tokens = sum(count(r["prompt"] + r["completion"]) for r in records) / len(records)
    model = train_stage(cfg, "sft", records, MAX_LENGTH, resume=True)
    train_peak = peak_rss_mb()
    gen, tok = _generator(model, cfg, max_new_tokens=160)
    prompts = [build(ex, merged.schema, tok, opts).text for ex in test_q]
    preds = {ex.id: extract_sql(r) for ex, r in zip(test_q, gen(prompts))}
    _, summary = evaluate(test_q, preds, merged.dataset.db_paths, workers=1)
    result = {"peak_rss_mb": train_peak, "tokens_per_sample": tokens, "ex": summary.ex,
              "n_test": summary.n_scored, "skipped": dict(skipped)}
    (out / "full_schema_sft" / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
