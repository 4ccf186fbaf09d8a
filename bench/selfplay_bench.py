"""Self-play benchmark (issue: self-play with an execution-judged, error-driven loss).

Same base, data and step budget for every method, SmolLM2-135M with LoRA:

* sft      - the AR experiment's SFT model (300 Spider-train examples; its EX is reused),
* spin     - SFT + SPIN (every sample counts as wrong, the model plays itself),
* dpo      - SFT + DPO on (gold, execution-wrong) pairs, reference = the SFT model,
* spft_it1 / spft_it2 - SFT + SPFT self-play: the pool is the SFT model and the three models
  of bench/synth_bench.py's rounds, ranked on its synthetic validation splits.

Each run samples K SQL for the same N Spider-train questions, trains STEPS optimizer steps,
and is evaluated on the AR experiment's seeded 200-question Spider dev sample; wall time and
peak RSS (a fresh process per run) are recorded. Stages are resumable (bench/out/selfplay/).

    nohup python bench/selfplay_bench.py > bench/out/selfplay_bench.log 2>&1 &
    python bench/selfplay_bench.py --partial     # summarise what has finished so far
"""
from __future__ import annotations

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
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "out" / "selfplay"
AR_PARTS = ROOT / "bench" / "results" / "ar_experiment"
SYNTH = ROOT / "bench" / "out" / "synth_bench" / "rounds"
SFT_RUN = ROOT / "bench" / "out" / "ar_runs" / "smollm2-135m__spider-train____0" / "merged"
N, K, STEPS, VAL = 100, 2, 10, 60
COMMON = ["train=[spider:train]", f"train_size=[{N}]", f"k={K}", f"max_steps={STEPS}",
          f"val_limit={VAL}", "early_stop=false", f"output_dir={OUT}",
          "max_length=512", "batch_size=2", "grad_accum=2"]
RUNS = {  # run -> (loss, iterations, pool)
    "spin": ("spin", 1, [SFT_RUN]),
    "dpo": ("dpo", 1, [SFT_RUN]),
    "spft": ("spft", 2, [SFT_RUN] + [SYNTH / f"model_r{r}" / "merged" for r in (1, 2, 3)]),
}


def validation_file() -> Path:
    """The synthetic validation splits of the three synth rounds, together (one round's
    tenth is too few questions to rank a pool)."""
    path = OUT / "synthetic_val.jsonl"
    if not path.exists():
        path.write_text("".join((SYNTH / f"round{r}_val.jsonl").read_text() for r in (1, 2, 3)))
    return path


def child(run: str) -> None:
    """One self-play run in this process (its max RSS is the run's peak memory)."""
    loss, iterations, pool = RUNS[run]
    val = f"file:{validation_file()}"
    cmd = ["train", "selfplay", "--config", "configs/selfplay/smollm2-135m_lora.yaml",
           f"name={run}", f"loss={loss}", f"iterations={iterations}",
           "pool=[" + ",".join(str(p) for p in pool) + "]", f"val={val}", *COMMON]
    if (OUT / run / "config.yaml").exists():
        cmd.append("--resume")
    from alignsql.cli.main import main as cli
    start = time.perf_counter()
    code = cli(cmd)
    if code:
        sys.exit(code)
    summary = json.loads((OUT / run / "summary.json").read_text())
    summary["wall_s"] = time.perf_counter() - start
    summary["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (OUT / f"{run}.json").write_text(json.dumps(summary, indent=2))


def trained(run: str) -> dict:
    done = OUT / f"{run}.json"
    if not done.exists():
        print(f"{time.strftime('%H:%M:%S')} training {run}", flush=True)
        subprocess.run([sys.executable, __file__, "--child", run], check=True, cwd=ROOT)
    return json.loads(done.read_text())


def evaluated(name: str, model: str) -> dict:
    from ar_experiment import evaluate
    done = OUT / f"ex_{name}.json"
    if not done.exists():
        print(f"{time.strftime('%H:%M:%S')} evaluating {name}", flush=True)
        result = evaluate(model, "spider:dev", OUT / f"eval_{name}")
        result.pop("preds")
        done.write_text(json.dumps(result, indent=2))
    return json.loads(done.read_text())


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":  # one training run, in its own process
        child(sys.argv[2])
        return
    partial = "--partial" in sys.argv  # write what is finished, run nothing
    OUT.mkdir(parents=True, exist_ok=True)
    sft = json.loads((AR_PARTS / "after__smollm2-135m__spider-train____0__spider-dev.json")
                     .read_text())
    runs, ex = {}, {"sft": sft["ex"]}
    for run in ("spin", "dpo", "spft"):
        if not partial or (OUT / f"{run}.json").exists():
            runs[run] = trained(run)
    for name, it in (("spin", 0), ("dpo", 0), ("spft_it1", 0), ("spft_it2", 1)):
        done = OUT / f"ex_{name}.json"
        if partial:  # an evaluation can finish before its run's later iterations
            if done.exists():
                ex[name] = json.loads(done.read_text())["ex"]
            continue
        ex[name] = evaluated(name, runs[name.split("_")[0]]["iterations"][it]["merged"])["ex"]
    result = {
        "complete": len(ex) == 5, "ex": ex, "n_eval": 200, "n_questions": N, "k": K, "steps_per_iteration": STEPS,
        "runs": {name: {"wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                        "iterations": [{k: v for k, v in it.items()
                                        if k in ("main", "opponent", "n_pairs", "counts",
                                                 "train_loss", "val_ex", "note",
                                                 "train_runtime_s")}
                                       for it in r["iterations"]],
                        "val_scores": r["val_scores"]} for name, r in runs.items()},
        "spft_pool_val_ex": (json.loads((OUT / "spft" / "val_scores.json").read_text())
                             if (OUT / "spft" / "val_scores.json").exists() else None),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": "python bench/selfplay_bench.py",
    }
    (ROOT / "bench" / "results" / "selfplay_bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(ex))


if __name__ == "__main__":
    main()
