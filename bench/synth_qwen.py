"""Verified synthesis with the Qwen SFT model (issue 16, part 3): does adding steered synthetic
rounds to SFT raise EX on Spider dev's test part?

Stage 1 of SPFT-SQL on the Spider dev databases: templates from spider:train, sampling steered
toward Spider dev's `steer` part, questions written and round-tripped by the largest finished
SFT model of bench/sft_dose.py. Each round's Qwen model is fine-tuned (the dose experiment's
LoRA config, one epoch) on the same 500 spider:train examples as the dose-500 model (the same
seeded sample) plus the synthetic pairs so far, then answers Spider dev's test part (never
used to steer) with the prompt it trained with. Each round is compared with dose 500 on the
same questions (paired interval, exact McNemar p); the extra synthetic examples also mean
extra steps, which the comparison does not separate from their content.

Resumable: the synthesis run resumes round by round; finished evaluations are kept.

    nohup python bench/synth_qwen.py > bench/out/synth_qwen.log 2>&1 &
    python bench/synth_qwen.py --smoke   # 1 round of 10 pairs, 16 real, 2 steps, no evaluation
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
from selfplay_qwen import doses  # noqa: E402
from sft_dose import OUT as DOSE_OUT  # noqa: E402
from sft_dose import compare, log, scored  # noqa: E402

OUT = ROOT / "bench" / "out" / "synth_qwen"
RESULT = ROOT / "bench" / "results" / "synth_qwen.json"
SYNTH_BENCH = ROOT / "bench" / "results" / "synth_bench.json"
TARGET = "spider:dev@test"
ROUNDS, PER_ROUND, REAL = 2, 300, 500
SFT = "configs/sft/qwen2.5-coder-0.5b_lora.yaml"


def synthesize(writer: Path, out: Path, smoke: bool) -> dict:
    from alignsql.synth.config import SynthConfig
    from alignsql.synth.run import run_synth
    rounds, n, real = (1, 10, 16) if smoke else (ROUNDS, PER_ROUND, REAL)
    cfg = SynthConfig(db="spider:dev", templates_from="spider:train", target="spider:dev@steer",
                      target_limit=200, n=n, rounds=rounds, out=str(out / "synth"),
                      sql2text_model=str(writer), text2sql_model=str(writer), sft=SFT,
                      sft_overrides=["val_fraction=0", "eval=null", "save_steps=20",
                                     *(["max_steps=2"] if smoke else [])],
                      real=["spider:train"], real_size=[real], backend="hf")
    return run_synth(cfg, log=log)


def real_sample(model: Path) -> dict:
    """Sources and seed of the round model's training data beside dose 500's: the same seed
    and count draw the same spider:train examples (alignsql.train.data.gather)."""
    import yaml
    def info(run: Path) -> dict:
        seed = yaml.safe_load((run / "config.yaml").read_text()).get("seed")
        return {"sources": json.loads((run / "data.json").read_text())["sources"], "seed": seed}
    return {"round_model": info(model.parent), "dose_500": info(DOSE_OUT / "runs" / "dose_500")}


def main(smoke: bool) -> None:
    if not smoke and RESULT.exists() and json.loads(RESULT.read_text()).get("complete"):
        log(f"{RESULT.name} is complete: nothing to do")  # a restarted queue keeps its times
        return
    out = OUT.with_name("synth_qwen_smoke") if smoke else OUT
    out.mkdir(parents=True, exist_ok=True)
    writer = doses()[0]
    log(f"writer and judge: {writer.parent.name}")
    summary = synthesize(writer, out, smoke)
    if smoke:  # plumbing, not a result: no evaluation
        log(json.dumps({k: summary["rounds"][0][k] for k in ("pairs", "verified_sql", "model")})
            + json.dumps(real_sample(Path(summary["rounds"][0]["model"]))))
        return
    control = scored(str(DOSE_OUT / "runs" / "dose_500" / "merged"), "dose_500", TARGET)
    rounds = []
    for r in summary["rounds"]:
        model = Path(r["model"])
        results = scored(str(model), f"synth_r{r['round']}", TARGET)
        rounds.append({"round": r["round"], "pairs": r["pairs"],
                       "verified_sql": r["verified_sql"], "round_trip_pass": r["round_trip_pass"],
                       "seconds": r["seconds"], "synthetic_val_ex": r.get("val_ex"),
                       "pairs_per_min": r["pairs"] / (sum(r["seconds"].get(k, 0.0) for k in
                                                          ("sql", "questions", "round_trip"))
                                                      / 60),
                       "real_sample": real_sample(model),
                       "vs_dose_500": compare(control, results, TARGET)})
    result = {"model": "qwen2.5-coder-0.5b", "writer": writer.parent.name, "target": TARGET,
              "steer": "spider:dev@steer", "per_round": PER_ROUND, "real": REAL,
              "rounds": rounds, "complete": len(rounds) == ROUNDS,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform(), "load_avg": os.getloadavg()},
              "command": "python bench/synth_qwen.py", "finished": time.strftime("%F %T")}
    RESULT.write_text(json.dumps(result, indent=2))
    # the issue's results file holds the Qwen rounds too, beside wave 1's SmolLM2 run
    wave1 = json.loads(SYNTH_BENCH.read_text())
    SYNTH_BENCH.write_text(json.dumps({**wave1, "qwen2.5-coder-0.5b": result}, indent=2))
    log(json.dumps([{k: r[k] for k in ("round", "pairs", "pairs_per_min")}
                    | {"diff": r["vs_dose_500"]["diff"], "p": r["vs_dose_500"]["p_value"]}
                    for r in rounds]))


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="a tiny run of every step but the "
                    "evaluation")
    main(ap.parse_args().smoke)
