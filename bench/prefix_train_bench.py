"""Prefix-shared training against the same steps computed without sharing.

Each variant trains in its own process, one after the other, on the same seeded examples and
the same optimizer steps (the same groups; ``share_prefix=false`` runs every member of a group
as its own row): examples/s, tokens/s of the examples as they would be run alone, peak RSS and
the loss of every step.

- ``sft_<model>``: Spider-train examples, 16 databases x 16 questions (full Spider train has
  ~60 questions per database, so a step's group is full as it is in a real run), each model's
  default SFT config (LoRA, bf16 autocast), 1 epoch.
- ``lrsql_link``: LR-SQL's schema-link samples of 8 training questions (question x slice of
  the merged 153-table Spider-train schema, with and without the carried hint), SmolLM2 (the
  LR-SQL config's model), batch and group size 16.

    python bench/prefix_train_bench.py            -> bench/results/prefix_train_bench.json
    python bench/prefix_train_bench.py --variant sft_qwen:shared   (one variant; used inside)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "prefix_train"
PARTS = ROOT / "bench" / "results" / "prefix_train"
SFT = {"sft_qwen": "configs/sft/qwen2.5-coder-0.5b_lora.yaml",
       "sft_smollm2": "configs/sft/smollm2-135m_lora.yaml"}
LRSQL = "configs/lrsql/smollm2-135m_lora.yaml"
N_DBS, PER_DB = 16, 16
LINK_QUESTIONS = 8
ORDER = ["sft_smollm2", "sft_qwen", "lrsql_link"]


def spider_pairs(seed: int = 0):
    """16 seeded Spider-train databases with >= 16 questions, 16 seeded questions each."""
    from alignsql.data import registry
    ds = registry.load("spider:train")
    by_db: dict[str, list] = {}
    for ex in ds.examples:
        if ds.db_path(ex.db_id):
            by_db.setdefault(ex.db_id, []).append(ex)
    rng = random.Random(seed)
    dbs = rng.sample(sorted(d for d, exs in by_db.items() if len(exs) >= PER_DB), N_DBS)
    return [(ex, ds) for d in dbs for ex in rng.sample(by_db[d], PER_DB)]


def sft_records(name: str):
    from alignsql import config
    from alignsql.models.loading import load
    from alignsql.train.config import SFTConfig
    from alignsql.train.data import records, tokenize
    cfg = config.load_yaml(SFTConfig, ROOT / SFT[name])
    lm = load(cfg.model, dtype="fp32", device=cfg.device)
    skipped: Counter = Counter()
    recs, _ = records(spider_pairs(), lm.tokenizer, cfg.prompt_budget, cfg.sample_values, skipped)
    return cfg, lm, tokenize(recs, lm.tokenizer, cfg.max_length, skipped), skipped


def link_records_for_bench():
    from alignsql import config
    from alignsql.lrsql.config import LRSQLConfig
    from alignsql.lrsql.data import link_records
    from alignsql.lrsql.run import prepare
    from alignsql.models.loading import load
    from alignsql.train.data import tokenize
    lcfg = config.load_yaml(LRSQLConfig, ROOT / LRSQL)
    lm = load(lcfg.model, dtype="fp32", device=lcfg.device)
    merged, train_q, _, slicing = prepare(lcfg, None, lm.tokenizer)
    skipped: Counter = Counter()
    recs = link_records(train_q[:LINK_QUESTIONS], merged.schema, slicing, lm.tokenizer, skipped)
    recs = tokenize(recs, lm.tokenizer, lcfg.slice_tokens, skipped, "link")
    cfg = lcfg.stage("link", lcfg.slice_tokens)
    cfg.batch_size, cfg.group_size = 16, 16
    return cfg, lm, recs, skipped, {"n_tables": len(merged.schema.tables),
                                    "n_slices": len(slicing.slices)}


def run_variant(name: str, mode: str) -> dict:
    """Train one variant in this process; returns its measurements."""
    from alignsql.train import sft
    from alignsql.train.callbacks import peak_rss_mb
    from alignsql.train.data import TrainingData
    from alignsql.train.prefix import example_tokens
    extra: dict = {}
    if name == "lrsql_link":
        cfg, lm, recs, skipped, extra = link_records_for_bench()
    else:
        cfg, lm, recs, skipped = sft_records(name)
    cfg.name, cfg.output_dir = f"{name}_{mode}", str(OUT)
    cfg.share_prefix, cfg.val_fraction, cfg.epochs, cfg.max_steps = mode == "shared", 0.0, 1.0, -1
    cfg.logging_steps, cfg.save_steps, cfg.merge, cfg.eval = 1, 10_000, False, None
    # Qwen unshared at 8 rows of up to 1,024 tokens reached 24 GB under glibc's default
    # allocator (killed); freed activations go back to the system in both Qwen variants
    cfg.release_memory = name == "sft_qwen"
    out = OUT / cfg.name
    if out.exists():
        import shutil
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start = time.perf_counter()
    trainer, result, _ = sft.fit(cfg, out, lm, TrainingData(recs, [], {name: len(recs)}), False)
    wall = time.perf_counter() - start
    runtime = result.metrics["train_runtime"]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    groups = json.loads((out / "groups.json").read_text())
    return {"variant": name, "mode": mode, "model": cfg.model, "n_examples": len(recs),
            "skipped": dict(skipped), "steps": result.global_step, "train_runtime_s": runtime,
            "wall_s": wall, "examples_per_s": len(recs) / runtime,
            "example_tokens_per_s": sum(example_tokens(r) for r in recs) / runtime,
            "processed_tokens": rows[-1]["tokens_seen"], "peak_rss_mb": peak_rss_mb(),
            "losses": [r["loss"] for r in rows if r["loss"] is not None],
            "groups": groups, "batch_size": cfg.batch_size, "group_size": cfg.group_size,
            "release_memory": cfg.release_memory,
            "load_avg_after": os.getloadavg(), **extra}


def fp32_loss_diff(n: int = 32) -> dict:
    """Loss of the same SmolLM2 step (fp32, no dropout) shared and unshared: the largest
    absolute difference over a few steps' worth of groups."""
    import torch

    from alignsql.models.loading import load
    from alignsql.train.config import SFTConfig
    from alignsql.train.data import records, tokenize
    from alignsql.train.losses import completion_loss
    from alignsql.train.prefix import GroupCollator, batch_item, make_groups
    lm = load("smollm2-135m", dtype="fp32", device="cpu")
    cfg = SFTConfig(max_length=768)
    recs, _ = records(spider_pairs()[:n], lm.tokenizer, cfg.prompt_budget, 0, Counter())
    recs = tokenize(recs, lm.tokenizer, cfg.max_length, Counter())
    groups = make_groups(recs, 8, 4096, seed=0)
    diffs = []
    with torch.no_grad():
        for g in groups:
            item = batch_item(recs, [g])
            a, b = (completion_loss(lm.model, {k: v for k, v in GroupCollator(
                lm.tokenizer.pad_token_id, share)([item]).items() if k != "n_tokens"})
                for share in (True, False))
            diffs.append(abs(float(a) - float(b)))
    return {"model": "smollm2-135m", "n_groups": len(groups), "max_abs_loss_diff": max(diffs)}


def failed(name: str, mode: str, code: int) -> dict:
    """A variant that did not finish (killed: the kernel's OOM killer on this machine), with
    how far it got from its metrics log."""
    rows = []
    log = OUT / f"{name}_{mode}" / "metrics.jsonl"
    if log.exists():
        rows = [json.loads(x) for x in log.read_text().splitlines()]
    last = rows[-1] if rows else {}
    return {"variant": name, "mode": mode, "failed": True, "returncode": code,
            "steps_done": last.get("step"), "elapsed_s": last.get("elapsed_s"),
            "peak_rss_mb": last.get("peak_rss_mb"),
            "reason": "killed by the kernel's OOM killer (24 GB machine)" if code == -9
            else f"exit code {code}"}


def summarize(parts: dict) -> dict:
    def both(name: str) -> tuple[dict | None, dict | None]:
        s, u = parts.get(f"{name}__shared"), parts.get(f"{name}__unshared")
        ok = s and u and not s.get("failed") and not u.get("failed")
        return (s, u) if ok else (None, None)

    def speed(name: str) -> float | None:
        s, u = both(name)
        return s["examples_per_s"] / u["examples_per_s"] if s else None

    def loss_diff(name: str) -> float | None:
        s, u = both(name)
        if not s:
            return None
        return max(abs(a - b) for a, b in zip(s["losses"], u["losses"]))
    partial = (parts.get("sft_qwen__unshared") or {}).get("partial_comparison")
    qwen = speed("sft_qwen") or (partial or {}).get("speedup")
    return {"speedup_sft_qwen": qwen,
            "speedup_sft_qwen_basis": "the whole epoch" if speed("sft_qwen") else (
                f"the first {partial['steps']} of 32 steps: the unshared run was killed by the "
                f"OOM killer after them" if partial else None),
            "speedup_sft_smollm2": speed("sft_smollm2"),
            "speedup_lrsql_link": speed("lrsql_link"),
            "max_loss_diff_bf16": {n: loss_diff(n) for n in ORDER},
            "max_loss_diff_bf16_sft_qwen_partial": (partial or {}).get("max_loss_diff"),
            "max_loss_diff_fp32_test": parts.get("fp32", {}).get("max_abs_loss_diff")}


def table(result: dict) -> str:
    """The markdown table docs/results.md quotes."""
    lines = ["| variant | model | mode | examples | steps | s | examples/s | example tokens/s | "
             "tokens computed | peak RSS MB | final loss |", "|---" * 11 + "|"]
    for r in result["runs"]:
        if r.get("failed"):
            lines.append(f"| {r['variant']} | | {r['mode']} | | {r['steps_done']} done | "
                         f"{r['elapsed_s']:.0f} | | | | {r['peak_rss_mb']:,.0f} | {r['reason']} |")
            continue
        lines.append(f"| {r['variant']} | {r['model']} | {r['mode']} | {r['n_examples']} | "
                     f"{r['steps']} | {r['train_runtime_s']:.0f} | {r['examples_per_s']:.3f} | "
                     f"{r['example_tokens_per_s']:.0f} | {r['processed_tokens']:,} | "
                     f"{r['peak_rss_mb']:,.0f} | {r['losses'][-1]:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", help="NAME:MODE, run in this process (internal)")
    parser.add_argument("--table", action="store_true", help="print the results as markdown")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads((ROOT / "bench" / "results" / "prefix_train_bench.json")
                               .read_text())))
        return
    if args.variant:
        name, mode = args.variant.split(":")
        result = fp32_loss_diff() if name == "fp32" else run_variant(name, mode)
        print(json.dumps(result))
        return
    PARTS.mkdir(parents=True, exist_ok=True)
    todo = [("fp32", "check")] + [(n, m) for n in ORDER for m in ("shared", "unshared")]
    parts = {}
    for name, mode in todo:
        part = PARTS / f"{name}__{mode}.json"
        if not part.exists():  # resumable: a finished (or failed) variant is kept
            uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            done = subprocess.run([sys.executable, __file__, "--variant", f"{name}:{mode}"],
                                  capture_output=True, text=True, cwd=ROOT)
            result = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                      else failed(name, mode, done.returncode))
            result["uptime_before"] = uptime
            part.write_text(json.dumps(result, indent=2))
            print(f"{name} {mode}: {json.dumps(result)[:300]}", flush=True)
        parts[f"{name}__{mode}" if name != "fp32" else "fp32"] = json.loads(part.read_text())
    out = {**summarize(parts), "runs": [v for k, v in parts.items() if k != "fp32"],
           "fp32_check": parts["fp32"],
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "platform": platform.platform()},
           "command": "python bench/prefix_train_bench.py",
           "note": "each variant alone on the machine, in its own process, one after the other"}
    (ROOT / "bench" / "results" / "prefix_train_bench.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
