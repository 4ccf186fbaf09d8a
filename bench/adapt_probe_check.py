"""Why adapt's first planner was conservative (docs/results.md, adapt): its two throughput
probes against the runs they planned. Generation: 8 answers with the weights in fp32 (the old
probe) and in bf16 (what evaluation and synthesis run), two calls each. Training: the probe's
packed step (tokens, and forward / backward seconds, two calls) against the GeoQuery run's own
training (bench/out/adapt/geoquery: tokens per step and per second). Run alone on the machine.

    python bench/adapt_probe_check.py   -> bench/results/adapt_probe_check.json
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
RUN = ROOT / "bench" / "out" / "adapt" / "geoquery" / "run"


def main() -> None:
    from alignsql import config
    from alignsql.adapt import stages
    from alignsql.adapt.run import AdaptConfig, Run
    from alignsql.models.loading import load
    cfg = config.load_yaml(AdaptConfig, RUN / "config.yaml",
                           [f"out={ROOT / 'bench' / 'out' / 'adapt' / 'probe_check'}"])
    run = Run(cfg, lambda _: None)
    out: dict = {"load_avg_start": list(os.getloadavg())}
    for dtype in ("fp32", "bf16"):
        lm = load(cfg.model, dtype, "cpu")
        secs = []
        for _ in range(2):
            start = time.perf_counter()
            stages._measure_generation(run, lm)
            secs.append(time.perf_counter() - start)
        out[f"generation_8_answers_s_{dtype}"] = secs
        del lm
    eps, tps = stages._measure_training(run, load(cfg.model, "fp32", "cpu"))
    out["training_probe"] = {"examples_per_s": eps, "tokens_per_s": tps,
                             "tokens_per_step": round(tps / eps * 8)}
    groups = json.loads((RUN / "sft" / "groups.json").read_text())
    train = json.loads((RUN / "stages" / "train.json").read_text())
    out["geoquery_run_training"] = {
        "tokens": groups["tokens_shared"], "steps": train["steps"],
        "tokens_per_step": groups["tokens_shared"] / train["steps"],
        "tokens_per_s": groups["tokens_shared"] / train["train_runtime_s"]}
    out.update(load_avg_end=list(os.getloadavg()),
               machine={"cpus": os.cpu_count(), "python": platform.python_version()},
               command="python bench/adapt_probe_check.py")
    (ROOT / "bench" / "results" / "adapt_probe_check.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
