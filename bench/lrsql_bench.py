"""LR-SQL benchmark on the merged large-database setting (150+ Spider tables), same base model,
LoRA settings and batch size everywhere:

* peak training memory (max RSS of a fresh process per stage, on the stage's longest samples:
  bench/lrsql_probe.py) and tokens per sample of full-schema SFT vs the schema-link model
  (slices) vs the SQL-generation model;
* LR-SQL end to end (FK-ordered slices): table-prediction metrics of the schema-link walk and
  EX on held-out questions of the merged database;
* the same with random slicing (ablation), and with every "none" link sample kept;
* the untrained base model on the same test questions, once through LR-SQL's pipeline (walk
  over the slices, SQL over the linked tables) and once with the full schema (a link prompt
  holding all tables, SQL over all tables): ``alignsql lrsql baseline``.

Not run here: training a full-schema model. Its samples are ~8,700 tokens (beyond SmolLM2's
8,192-token context) and one optimizer step of batch 1 takes ~9 minutes on this CPU (the probe
measures it), so the 30 steps LR-SQL gets here would take hours at batch 1 and about a day at
the config's batch 4. The full-schema figures are therefore the untrained base model's, and the
JSON says so.

Each run is a subprocess writing bench/out/lrsql/<run>/summary.json or probe_<stage>.json
(resumed if present); the summary goes to bench/results/lrsql_bench.json, with "complete"
false while runs are missing (--partial writes what exists).

    nohup python bench/lrsql_bench.py > bench/out/lrsql_bench.log 2>&1 &
    python bench/lrsql_bench.py --partial
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "lrsql"
CONFIG = "configs/lrsql/smollm2-135m_lora.yaml"
MODEL = "smollm2-135m"  # the config's base model
# CPU budget: 200 training questions and 30 steps per stage (the config: 300 and 60)
BUDGET = ["n_train=200", "max_steps=30"]
# lrsql_fk_all_none: every "none" link sample kept (94% of them), the default keeps 2 per positive
RUNS = {"lrsql_fk": ["slicing=fk", *BUDGET], "lrsql_random": ["slicing=random", *BUDGET],
        "lrsql_fk_all_none": ["slicing=fk", "none_per_positive=null", *BUDGET]}
# (stage, batch size, release_memory): the config's batch of 4, batch 1 (where full-schema SFT
# fits), and with freed memory returned to the system (RSS then tracks what a step holds).
# The sqlgen probes run before the fk run here (gold tables only, said in their JSON).
PROBES = [("link", 4, False), ("full", 1, False), ("link", 1, False), ("sqlgen", 4, False),
          ("link", 4, True), ("sqlgen", 4, True), ("sqlgen", 1, False), ("full", 1, True),
          ("link", 1, True), ("sqlgen", 1, True)]
# Not probed: full schema at batch 4 (2 steps of 4 x 8.9k tokens: ~75 min on this CPU by the
# batch-1 probe's step time, and its default-allocator peak nears the machine's memory).


def lrsql(run: str, overrides: list[str]) -> None:
    if not (OUT / run / "summary.json").exists():
        subprocess.run([sys.executable, "-m", "alignsql.cli.main", "lrsql", "run", "--config",
                        CONFIG, f"name={run}", f"output_dir={OUT}", *overrides,
                        *(["--resume"] if (OUT / run).exists() else [])], check=True, cwd=ROOT)


def baseline(run: str, overrides: list[str]) -> None:
    """The untrained base model on ``run``'s test questions (same split: same overrides)."""
    if not (OUT / run / "baseline" / MODEL / "summary.json").exists():
        subprocess.run([sys.executable, "-m", "alignsql.cli.main", "lrsql", "baseline",
                        "--config", CONFIG, f"name={run}", f"output_dir={OUT}", *overrides],
                       check=True, cwd=ROOT)


def _probe_name(stage: str, batch: int, release: bool) -> str:
    return f"{stage}_b{batch}" + ("_release" if release else "")


def probe(stage: str, batch: int, release: bool) -> None:
    """A probe stopped by its memory watchdog (exit 3) has still written its result."""
    path = OUT / f"probe_{_probe_name(stage, batch, release)}.json"
    if not path.exists():
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / "lrsql_probe.py"), stage,
                               str(OUT), str(batch), *(["release"] if release else [])],
                              check=False, cwd=ROOT)
        if not path.exists():
            raise SystemExit(f"probe {stage} batch {batch} failed (exit {proc.returncode})")


def _with_counts(run: str, result: dict | None) -> dict | None:
    """A finished run's summary plus what its run directory shows of the link model: samples
    per stage, and questions for which the walk named at least one table."""
    if result is None:
        return None
    folder = OUT / run
    named = lambda tables: sum(bool(t) for t in tables)
    test = [json.loads(line)["tables"] for line in (folder / "eval" / "preds.jsonl").open()]
    return {**result, "link_samples": _read(folder / "link" / "summary.json")["n_records"],
            "sqlgen_samples": _read(folder / "sqlgen" / "summary.json")["n_records"],
            "train_questions_linked": named(_read(folder / "linked_train.json").values()),
            "test_questions_linked": named(test)}


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _peaks(probes: dict, batch: int, release: bool = False) -> dict:
    get = lambda s: (probes.get(_probe_name(s, batch, release)) or {}).get("peak_rss_mb")
    return {"full_schema_sft": get("full"), "schema_link": get("link"),
            "sql_generation": get("sqlgen")}


def _ratio(peak: dict) -> float | None:
    if not all(peak.values()):
        return None
    return max(peak["schema_link"], peak["sql_generation"]) / peak["full_schema_sft"]


def summary() -> dict:
    """Whatever has finished, in the issue's shape (null where a run is missing). Memory at
    batch 1 (``peak_mem_mb``) and the config's batch 4; a full-schema probe stopped by the
    watchdog gives a lower bound of its peak, so its ratio is an upper bound."""
    probes = {_probe_name(*p): _read(OUT / f"probe_{_probe_name(*p)}.json") for p in PROBES}
    runs = {r: _with_counts(r, _read(OUT / r / "summary.json")) for r in RUNS}
    fk, rnd, all_none = runs["lrsql_fk"], runs["lrsql_random"], runs["lrsql_fk_all_none"]
    base = _read(OUT / "lrsql_fk" / "baseline" / MODEL / "summary.json")
    peak4, peak1, released = _peaks(probes, 4), _peaks(probes, 1), {
        "batch_4": _peaks(probes, 4, True), "batch_1": _peaks(probes, 1, True)}
    return {
        "complete": all(probes.values()) and all(runs.values()) and base is not None,
        "n_tables": (fk or base or {}).get("n_tables"),
        # batch 1: the one batch size at which full-schema SFT was measured here
        "peak_mem_mb": peak1,
        "peak_mem_mb_batch4": peak4,
        "peak_mem_mb_release_memory": released,
        "full_schema_exceeded_limit": {k: bool(v and v["exceeded"]) for k, v in probes.items()
                                       if k.startswith("full")},
        "larger_lrsql_peak_vs_full": {
            "batch_4": _ratio(peak4), "batch_1": _ratio(peak1),
            "release_memory_batch_1": _ratio(released["batch_1"]),
            # LR-SQL at batch 4 against full schema at batch 1: biased against LR-SQL
            "release_memory_lrsql_b4_vs_full_b1": _ratio({
                **released["batch_4"], "full_schema_sft": released["batch_1"]["full_schema_sft"]})},
        "tokens_per_sample": {k.split("_")[0]: v["tokens_per_sample"]
                              for k, v in probes.items() if v},
        "probes": probes,
        "full_schema_is": f"the untrained base model ({MODEL}) given all tables at once",
        "table_metrics": {"sliced": _at(fk, "table_metrics"),
                          "full_schema": _at(base, "full_schema", "table_metrics"),
                          "sliced_untrained": _at(base, "sliced", "table_metrics"),
                          "random_slicing": _at(rnd, "table_metrics"),
                          "all_none_samples": _at(all_none, "table_metrics")},
        "ex": {"lrsql": _at(fk, "ex"), "full_schema": _at(base, "full_schema", "ex"),
               "lrsql_untrained": _at(base, "sliced", "ex"),
               "lrsql_random_slicing": _at(rnd, "ex"),
               "lrsql_all_none_samples": _at(all_none, "ex")},
        "full_schema_prompt_tokens": _at(base, "full_schema_prompt_tokens"),
        "runs": runs,
        "baseline": base,
        "not_measured": ["a trained full-schema model: the same 30 steps would take hours on "
                         "this CPU (probes.full_b1.seconds is 2 steps of batch 1) on samples "
                         "longer than SmolLM2's 8,192-token context",
                         "full-schema SFT memory at batch 4 (~75 min for 2 steps here)"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": "python bench/lrsql_bench.py",
    }


def _at(d: dict | None, *keys: str):
    """``d[k1][k2]...``, or None when ``d`` (a run not finished) is None."""
    for k in keys:
        if d is None:
            return None
        d = d[k]
    return d


def main(partial: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if not partial:
        lrsql("lrsql_fk", RUNS["lrsql_fk"])
        baseline("lrsql_fk", RUNS["lrsql_fk"])
        lrsql("lrsql_random", RUNS["lrsql_random"])
        lrsql("lrsql_fk_all_none", RUNS["lrsql_fk_all_none"])
        for p in PROBES:
            probe(*p)
    result = summary()
    (ROOT / "bench" / "results" / "lrsql_bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("complete", "n_tables", "peak_mem_mb",
                                             "peak_mem_mb_batch4", "larger_lrsql_peak_vs_full",
                                             "table_metrics", "ex")}, indent=2))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--partial", action="store_true", help="summarize finished runs only")
    main(ap.parse_args().partial)
