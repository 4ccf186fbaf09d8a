"""Training throughput and peak memory of each default SFT config, with length grouping or
without, in the same run (same data, steps and seed).

Three variants (each example alone): length grouping, neither, and length grouping with logits for every
position (the plain loss; the default projects to the vocabulary only at SQL tokens).
tokens/s counts real (non-padding) tokens, so less padding shows as more useful work per
second. Each variant runs in its own process; peak memory is that process's max RSS.

    python bench/train_throughput.py     -> bench/results/train_throughput.json
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["configs/sft/smollm2-135m_full.yaml", "configs/sft/qwen2.5-coder-0.5b_lora.yaml"]
# every example alone (group_size=1): prefix sharing is measured by prefix_train_bench.py;
# TRL's packing, measured here before (slower than length grouping), is no longer an option
VARIANTS = {"group_by_length": ["group_by_length=true", "group_size=1"],
            "neither": ["group_by_length=false", "group_size=1"],
            # the default computes logits only where the loss is; this is the plain path
            "group_by_length_full_logits": ["group_by_length=true", "group_size=1",
                                            "loss_logits_only=false"]}
STEPS = 5  # the first pays for warm-up; 4 steady steps
PARTS = ROOT / "bench" / "results" / "train_throughput"
# the plain-loss comparison on the small model only (CPU budget)
SKIP = {("qwen2.5-coder-0.5b_lora", "group_by_length_full_logits")}


def run(cfg: str, variant: str, out: Path) -> dict:
    name = f"{Path(cfg).stem}_{variant}"
    cmd = [sys.executable, "-m", "alignsql.cli.main", "train", "sft", "--config", cfg,
           f"name={name}", f"output_dir={out}", f"max_steps={STEPS}", "train_size=[200]",
           "merge=false", "eval=null", "val_fraction=0", "logging_steps=1", "save_steps=1000",
           "max_length=512", *VARIANTS[variant]]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    rows = [json.loads(x) for x in (out / name / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["loss"] is not None]
    steady = rows[1:] or rows  # the first step pays for warm-up
    seconds = steady[-1]["elapsed_s"] - (rows[0]["elapsed_s"] if len(rows) > 1 else 0)
    tokens = steady[-1]["tokens_seen"] - (rows[0]["tokens_seen"] if len(rows) > 1 else 0)
    summary = json.loads((out / name / "summary.json").read_text())
    return {"config": Path(cfg).stem, "variant": variant, "steps": STEPS,
            "tokens_per_s": tokens / seconds if seconds else None,
            "seconds_per_step": seconds / max(len(steady), 1),
            "peak_rss_mb": summary["peak_rss_mb"], "final_loss": rows[-1]["loss"]}


def main() -> None:
    """One part file per (config, variant), so a killed run resumes."""
    results = []
    PARTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in CONFIGS:
            for variant in VARIANTS:
                part = PARTS / f"{Path(cfg).stem}__{variant}.json"
                if (Path(cfg).stem, variant) in SKIP:
                    continue
                if not part.exists():
                    part.write_text(json.dumps(run(cfg, variant, Path(tmp)), indent=2))
                results.append(json.loads(part.read_text()))
                print(json.dumps(results[-1]), flush=True)
    out = {"runs": results, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                        "platform": platform.platform()},
           "note": f"{STEPS} optimizer steps per variant, 200 spider:train examples, max_length "
                   "512; each variant ran alone on the machine",
           "command": "python bench/train_throughput.py"}
    (ROOT / "bench" / "results" / "train_throughput.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
