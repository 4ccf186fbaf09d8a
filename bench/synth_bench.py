"""Synthesis benchmark (issue: verified, iterative synthesis), on the Spider dev databases.

1. SQL-only synthesis, templates from spider:train, sampled by frequency vs steered toward a
   seeded 200-question Spider dev sample: verified queries per minute, pass rate of each
   filter, and A (and AR, against SmolLM2's own pre-SFT predictions) of each synthetic set;
   the same for each round's pairs that survived question writing and the round trip.
2. Three rounds of `alignsql synth` with questions written by Qwen2.5-Coder-0.5B, the round
   trip judged by Qwen2.5-Coder-0.5B, and SmolLM2-135M fine-tuned per round on the same 300
   real Spider-train examples plus the synthetic pairs so far: pairs per minute end to end,
   and EX on the AR experiment's Spider dev sample after rounds 1 and 3.

EX of the base model and of SFT on the 300 real examples are the AR experiment's
spider:train pair (bench/results/ar_experiment/: same config, sample, seed and prompts).
Every stage writes bench/out/synth_bench/<stage>.json (resumed if present); the summary goes
to bench/results/synth_bench.json.

    nohup python bench/synth_bench.py > bench/out/synth_bench.log 2>&1 &
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "out" / "synth_bench"
AR_PARTS = ROOT / "bench" / "results" / "ar_experiment"
SQL_ONLY_N = 1000
ROUND_N = 150
ROUNDS = 3


def stage(name: str, fn, *args) -> dict:
    path = OUT / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    print(f"{time.strftime('%H:%M:%S')} {name}", flush=True)
    result = fn(*args)
    path.write_text(json.dumps(result, indent=2))
    return result


def base_preds() -> Path:
    """SmolLM2's pre-SFT predictions on the Spider dev sample (the AR denominator)."""
    before = json.loads((AR_PARTS / "before__smollm2-135m__spider-dev.json").read_text())
    path = OUT / "base_preds.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in before["preds"]))
    return path


def sql_only(mode: str) -> dict:
    from alignsql.synth.config import SynthConfig
    from alignsql.synth.run import run_synth
    cfg = SynthConfig(db="spider:dev", templates_from="spider:train", target="spider:dev",
                      target_limit=200, mode=mode, n=SQL_ONLY_N, questions=False,
                      out=str(OUT / f"sql_{mode}"))
    start = time.perf_counter()
    summary = run_synth(cfg)
    minutes = (time.perf_counter() - start) / 60
    r = summary["rounds"][0]
    return {"mode": mode, "verified": r["verified_sql"], "minutes": minutes,
            "verified_per_min": r["verified_sql"] / minutes,
            "acceptance": r["filters"]["acceptance"], "dropped": r["filters"]["dropped"],
            "file": r["train"]}


def alignment(files: dict[str, str], preds: Path, scale: float | None = None) -> dict:
    """A and AR of each file against the target sample; ``scale`` fixes the KL scale c so two
    reports compare."""
    from alignsql.align.run import AlignConfig, run_align
    specs = {mode: f"file:{f}" for mode, f in files.items()}
    report = run_align(AlignConfig(train=list(specs.values()), target=["spider:dev"],
                                   preds=[str(preds)], target_sample=200, seed=0,
                                   bootstrap=[], kl_scale=scale))
    a = {p["source"]: p["alignment"] for p in report["pairs"]}
    ar = {r["train"]: r["ar"] for r in report["ar"]}
    return {mode: {"a": a[spec], "ar": ar.get(spec)} for mode, spec in specs.items()} | {
        "a_preds": report["ar"][0]["a_preds"] if report["ar"] else None,
        "kl_scale": report["kl_scale"]}


def rounds() -> dict:
    from alignsql.synth.config import SynthConfig
    from alignsql.synth.run import run_synth
    from ar_experiment import OVERRIDES
    cfg = SynthConfig(db="spider:dev", templates_from="spider:train", target="spider:dev",
                      target_limit=200, n=ROUND_N, rounds=ROUNDS, out=str(OUT / "rounds"),
                      sql2text_model="qwen2.5-coder-0.5b", text2sql_model="qwen2.5-coder-0.5b",
                      sft="configs/sft/smollm2-135m_full.yaml", sft_overrides=OVERRIDES,
                      real=["spider:train"], real_size=[300])
    return run_synth(cfg, log=lambda m: print(m, flush=True))


def ex_after(round_stats: dict, r: int) -> dict:
    from ar_experiment import evaluate
    result = evaluate(round_stats["model"], "spider:dev", OUT / f"eval_r{r}")
    result.pop("preds")
    return result


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    preds = base_preds()
    modes = {m: stage(f"sql_{m}", sql_only, m) for m in ("frequency", "steered")}
    align = stage("alignment", alignment, {m: r["file"] for m, r in modes.items()}, preds)
    summary = stage("rounds", rounds)
    evals = {r: stage(f"ex_r{r}", ex_after, summary["rounds"][r - 1], r) for r in (1, ROUNDS)}
    kept = stage("alignment_kept", alignment,
                 {f"round{r['round']}": r["train"] for r in summary["rounds"]}, preds,
                 align["kl_scale"])
    before = json.loads((AR_PARTS / "before__smollm2-135m__spider-dev.json").read_text())
    real = json.loads((AR_PARTS / "after__smollm2-135m__spider-train____0__spider-dev.json")
                      .read_text())
    r1 = summary["rounds"][0]
    end_to_end = sum(r1["seconds"].get(k, 0.0) for k in ("sql", "questions", "round_trip"))
    result = {
        "pairs_per_min": r1["pairs"] / (end_to_end / 60),
        "verified_sql_per_min": modes["frequency"]["verified_per_min"],
        "acceptance": {**modes["steered"]["acceptance"],
                       "question": 1 - r1["dropped_after_sql"].get("no question written", 0)
                       / max(r1["verified_sql"], 1),
                       "round_trip": r1["round_trip_pass"]},
        "a_steered": align["steered"]["a"], "a_unsteered": align["frequency"]["a"],
        "ar_steered": align["steered"]["ar"], "ar_unsteered": align["frequency"]["ar"],
        "a_preds": align["a_preds"], "kl_scale": align["kl_scale"],
        "a_after_round_trip": {k: v["a"] for k, v in kept.items() if k.startswith("round")},
        "ar_after_round_trip": {k: v["ar"] for k, v in kept.items() if k.startswith("round")},
        "ex": {"base": before["ex"], "sft_real": real["ex"],
               "sft_real_synth_r1": evals[1]["ex"], f"sft_real_synth_r{ROUNDS}": evals[ROUNDS]["ex"]},
        "n_eval": evals[1]["n"], "sql_only": modes, "rounds": summary["rounds"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": "python bench/synth_bench.py",
    }
    (ROOT / "bench" / "results" / "synth_bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("pairs_per_min", "a_steered", "a_unsteered", "ex")}))


if __name__ == "__main__":
    main()
