"""Two checks behind docs/results.md's adapt section (#17), written to
bench/results/adapt_checks.json:

* leak: the first GeoQuery adapt run (kept in bench/out/adapt/geoquery.leaky, before adapt
  excluded test questions) scored separately on the test questions its training data held and
  on the ones it did not (paired, as adapt scores);
* plan: why the plan is conservative: adapt's two throughput probes called three times each
  (is the first call slow?), and the shared-prefix length of the training probe's group
  against the selected examples' (is the probe's prompt longer?). Run on an idle machine.

    python bench/adapt_checks.py
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LEAKY = ROOT / "bench" / "out" / "adapt" / "geoquery.leaky"
CLEAN = ROOT / "bench" / "out" / "adapt" / "geoquery"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def leak() -> dict:
    from alignsql.data.overlap import question_key
    from alignsql.eval.significance import paired_comparison
    synth = json.loads((LEAKY / "run" / "stages" / "synth.json").read_text())
    synth_file = LEAKY / "run" / "synth" / Path(synth["train"]).name
    keys = {question_key(r.get("question") or "") for f in
            (LEAKY / "run" / "data" / "selected.jsonl", synth_file) for r in _jsonl(f)} - {""}
    test = _jsonl(LEAKY / "test.jsonl")
    res = {m: {r["id"]: r for r in _jsonl(LEAKY / "run" / "eval" / m / "results.jsonl")}
           for m in ("untuned", "tuned")}
    out = {}
    for name, want in (("in_training", True), ("not_in_training", False)):
        ids = [f"test-{i}" for i, t in enumerate(test)
               if (question_key(t["question"]) in keys) == want
               and res["untuned"][f"test-{i}"]["status"] not in ("gold_error", "missing_db")]
        c = paired_comparison([int(res["untuned"][i]["status"] == "correct") for i in ids],
                              [int(res["tuned"][i]["status"] == "correct") for i in ids])
        out[name] = {k: c[k] for k in ("n", "ex_a", "ex_b", "diff", "ci", "p_value")}
    return out


def plan_probes() -> dict:
    from alignsql import config
    from alignsql.adapt import stages
    from alignsql.adapt.run import AdaptConfig, Run
    from alignsql.models.loading import load
    cfg = config.load_yaml(AdaptConfig, CLEAN / "run" / "config.yaml",
                           [f"out={ROOT / 'bench' / 'out' / 'adapt' / 'probe_check'}"])
    run, lm = Run(cfg, lambda _: None), load(cfg.model, "fp32", cfg.device)

    def timed(fn_name: str):
        fn = getattr(stages, fn_name)
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            fn(run, lm)
            seconds.append(time.perf_counter() - start)
        return seconds
    gen, train = timed("_measure_generation"), timed("_measure_training")
    return {"generation_probe_s": gen, "training_probe_s": train,
            "load_avg": list(os.getloadavg())}


def prefixes() -> dict:
    from alignsql.data import registry
    from alignsql.models.loading import load_tokenizer
    from alignsql.train.data import records
    tok = load_tokenizer("qwen2.5-coder-0.5b")
    ds = registry.load("spider:train")
    by_db: dict[str, list] = {}
    for ex in ds.examples:
        by_db.setdefault(ex.db_id, []).append(ex)

    def prefix_tokens(db: str) -> int:
        recs, _ = records([(by_db[db][0], ds)], tok, 896, 3, Counter())
        return len(tok(recs[0]["prefix"], add_special_tokens=False)["input_ids"])
    lens = {db: prefix_tokens(db) for db in by_db}
    probe_db = max(by_db, key=lambda d: len(by_db[d]))  # what _measure_training takes
    picked = Counter(r.get("db_id") for r in _jsonl(CLEAN / "run" / "data" / "selected.jsonl"))
    return {"probe_db": probe_db, "probe_prefix_tokens": lens[probe_db],
            "selected_mean_prefix_tokens": sum(lens.get(d, 0) * n for d, n in picked.items())
            / sum(picked.values()),
            "pool_median_prefix_tokens": statistics.median(lens.values())}


def main() -> None:
    result = {"leak": leak(), "plan_probes": plan_probes(), "prefixes": prefixes(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "command": "python bench/adapt_checks.py"}
    (ROOT / "bench" / "results" / "adapt_checks.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
