"""Prediction benchmark: both registry models on a fixed, seeded sample of 200 Spider dev
questions whose databases exist: EX (by execution), queries/s, generated tokens/s at batch 1
and 8, bf16 vs fp32, and peak memory (max RSS of a fresh process per configuration).

Each configuration runs in its own process, writes its predictions to bench/out/ (resumed if
killed) and its numbers to bench/out/<run>.json; the summary goes to
bench/results/predict_bench.json. fp32 runs use the first 50 questions of the same sample
, as do batch-1 runs (fp32 is ~2.5x slower here, batch 1 ~2x); every run also reports its EX on
those 50 (``ex_subset``), so batch 1 vs 8 and bf16 vs fp32 compare on the same questions.

    nohup python bench/predict_bench.py > bench/out/predict_bench.log 2>&1 &
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
SAMPLE, SEED = 200, 0
SUBSET = 50  # batch-1 and fp32 runs answer the first 50 questions of the same sample
RUNS = [  # (model, dtype, batch size, questions)
    ("qwen2.5-coder-0.5b", "bf16", 8, SAMPLE), ("smollm2-135m", "bf16", 8, SAMPLE),
    ("qwen2.5-coder-0.5b", "bf16", 1, SUBSET), ("smollm2-135m", "bf16", 1, SUBSET),
    ("qwen2.5-coder-0.5b", "fp32", 8, SUBSET), ("smollm2-135m", "fp32", 8, SUBSET),
]


def run_name(model: str, dtype: str, bs: int, n: int) -> str:
    return f"{model}_{dtype}_b{bs}_n{n}"


def child(model: str, dtype: str, bs: int, n: int) -> dict:
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict

    name = run_name(model, dtype, bs, n)
    cfg = PredictConfig(model=model, dataset="spider:dev", sample=SAMPLE, seed=SEED,
                        with_db=True, limit=n, batch_size=bs, dtype=dtype, max_new_tokens=160,
                        out=str(OUT / f"{name}.jsonl"))
    stats = run_predict(cfg)
    results, summary = run_eval(EvalConfig(dataset="spider:dev", preds=cfg.out,
                                           only_predicted=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first = _subset_ids()
    sub = [r for r in results if r.id in first]
    return {"model": model, "batch_size": bs, "dtype": dtype, "n": summary.n_scored,
            "ex": summary.ex, "ex_subset": sum(r.status == "correct" for r in sub) / len(sub),
            "valid": summary.valid, "qps": stats["qps"],
            "tokens_per_s": stats["tokens_per_s"], "peak_rss_mb": peak,
            "gen_seconds": stats["seconds"], "resumed": stats["resumed"],
            "empty": stats["empty"], "device": stats["device"]}


def _subset_ids() -> set[str]:
    from alignsql.data import registry
    from alignsql.models.predict import PredictConfig, choose_examples
    cfg = PredictConfig(dataset="spider:dev", sample=SAMPLE, seed=SEED, with_db=True, limit=SUBSET)
    return {e.id for e in choose_examples(registry.load("spider:dev"), cfg)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=4)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.child:
        m, d, b, n = args.child
        result = child(m, d, int(b), int(n))
        (OUT / f"{run_name(m, d, int(b), int(n))}.json").write_text(json.dumps(result))
        return
    runs = []
    for model, dtype, bs, n in RUNS:
        done = OUT / f"{run_name(model, dtype, bs, n)}.json"
        if not done.exists():
            print(f"{time.strftime('%H:%M:%S')} running {done.stem}", flush=True)
            subprocess.run([sys.executable, __file__, "--child", model, dtype, str(bs), str(n)],
                           check=True)
        runs.append(json.loads(done.read_text()))
        print(json.dumps(runs[-1]), flush=True)
    result = {"runs": runs, "sample": {"dataset": "spider:dev", "n": SAMPLE, "seed": SEED,
                                       "with_db": True},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "command": "python bench/predict_bench.py"}
    (ROOT / "bench" / "results" / "predict_bench.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
