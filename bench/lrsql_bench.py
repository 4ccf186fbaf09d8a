"""LR-SQL benchmark on the merged large-database setting (150+ Spider tables), same base model
and steps everywhere:

* peak training memory (max RSS of a fresh process per run) and tokens per sample of
  full-schema SFT vs the schema-link model (slices) vs the SQL-generation model;
* table-prediction metrics of the sliced schema-link model vs a full-schema one (one slice
  holding every table), and end-to-end EX of LR-SQL vs full-schema SFT on the same held-out
  questions;
* FK-ordered vs random slicing.

Each run is a subprocess writing bench/out/lrsql/<run>/summary.json (resumed if present);
the summary goes to bench/results/lrsql_bench.json.

    nohup python bench/lrsql_bench.py > bench/out/lrsql_bench.log 2>&1 &
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "lrsql"
CONFIG = "configs/lrsql/smollm2-135m_lora.yaml"
RUNS = {  # run -> overrides of the LR-SQL config
    "lrsql_fk": ["slicing=fk"],
    "lrsql_random": ["slicing=random"],
    # one "slice" holding the whole schema: a full-schema schema-link model
    "link_full_schema": ["slice_tokens=12000", "reserve=400"],
}


def lrsql(run: str, overrides: list[str]) -> dict:
    summary = OUT / run / "summary.json"
    if not summary.exists():
        subprocess.run([sys.executable, "-m", "alignsql.cli.main", "lrsql", "run", "--config",
                        CONFIG, f"name={run}", f"output_dir={OUT}", *overrides,
                        *(["--resume"] if (OUT / run).exists() else [])], check=True, cwd=ROOT)
    result = json.loads(summary.read_text())
    for stage in ("link", "sqlgen"):
        metrics = [json.loads(x) for x in (OUT / run / stage / "metrics.jsonl").read_text().splitlines()]
        result[f"{stage}_peak_rss_mb"] = max(m["peak_rss_mb"] for m in metrics)
    return result


def full_schema_sft() -> dict:
    """Plain SFT with every table in the prompt, same questions and steps; then its EX."""
    summary = OUT / "full_schema_sft" / "result.json"
    if not summary.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "lrsql_full_schema.py"), str(OUT)],
                       check=True, cwd=ROOT)
    return json.loads(summary.read_text())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    runs = {name: lrsql(name, ov) for name, ov in RUNS.items()}
    full = full_schema_sft()
    fk = runs["lrsql_fk"]
    result = {
        "n_tables": fk["n_tables"],
        "peak_mem_mb": {"full_schema_sft": full["peak_rss_mb"],
                        "schema_link": fk["link_peak_rss_mb"],
                        "sql_generation": fk["sqlgen_peak_rss_mb"]},
        "tokens_per_sample": {"full_schema_sft": full["tokens_per_sample"]},
        "table_metrics": {"sliced": fk["table_metrics"],
                          "full_schema": runs["link_full_schema"]["table_metrics"],
                          "random_slicing": runs["lrsql_random"]["table_metrics"]},
        "ex": {"lrsql": fk["ex"], "full_schema": full["ex"],
               "lrsql_random_slicing": runs["lrsql_random"]["ex"]},
        "n_slices": {"fk": fk["n_slices"], "random": runs["lrsql_random"]["n_slices"]},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": "python bench/lrsql_bench.py",
    }
    ratio = max(result["peak_mem_mb"]["schema_link"], result["peak_mem_mb"]["sql_generation"]) \
        / result["peak_mem_mb"]["full_schema_sft"]
    result["larger_lrsql_peak_vs_full"] = ratio
    (ROOT / "bench" / "results" / "lrsql_bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
