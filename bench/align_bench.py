"""Alignment benchmark: every dataset of the shared data, full pairwise alignment matrix.

Measures templating throughput (queries/s) of the library path (shape dedup + 2 worker
processes) against a plain one-query-at-a-time sqlglot loop in the same run, and the
end-to-end time of the whole matrix cold (empty template cache, fresh process: load, template,
compare) and warm (cache filled, fresh process). Writes bench/results/align_bench.json.

    python bench/align_bench.py [--out bench/results/align_bench.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASETS = ["spider:train", "spider:dev", "bird:train", "bird:dev", "bird:mini_dev",
            "wikisql:all", "atis:all", "geography:all", "advising:all", "restaurants:all",
            "academic:all", "imdb:all", "yelp:all", "scholar:all", "kaggledbqa:all",
            "defog:sqlite", "defog:postgres", "gretel:all"]


def matrix(workers: int) -> dict:
    """One end-to-end run in this process: profiles (cached or not) then all pairs."""
    from alignsql.align.compare import CompareOptions, compare
    from alignsql.align.run import profile_specs

    t0 = time.perf_counter()
    profiles = profile_specs(DATASETS, workers=workers)
    t1 = time.perf_counter()
    report = compare(profiles, profiles, opts=CompareOptions(bootstrap_sizes=[], kl_scale_mode="report"),
                     with_bootstrap=False, with_explain=False)
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "profile_s": t1 - t0, "compare_s": t2 - t1,
            "queries": sum(p.n for p in profiles.values()),
            "unparsed": {s: p.n_unparsed for s, p in profiles.items()},
            "pairs": report["pairs"], "kl_scale": report["kl_scale"]}


def templating(workers: int) -> dict:
    """Templating alone (datasets already loaded): library path vs the plain loop."""
    from alignsql.align.profile import template_items
    from alignsql.data import registry
    from alignsql.sql.template import template

    items = []
    for spec in DATASETS:
        items.extend((e.sql, e.dialect) for e in registry.load(spec).examples)
    t0 = time.perf_counter()
    templates, index, _ = template_items(items, workers=workers)
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = [template(sql, d).tokens for sql, d in items]
    plain_s = time.perf_counter() - t0
    agree = sum(templates[i] == p for i, p in zip(index, plain)) / len(items)
    return {"queries": len(items), "templating_s": fast_s, "templating_qps": len(items) / fast_s,
            "baseline_s": plain_s, "baseline_qps": len(items) / plain_s,
            "same_templates": agree, "distinct_templates": len(templates)}


def _child(mode: str, home: str, workers: int) -> dict:
    env = dict(os.environ, ALIGNSQL_HOME=home)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--workers", str(workers)],
                         env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - start  # interpreter start and imports too
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "align_bench.json"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--child", choices=["matrix", "templating"])
    args = ap.parse_args()
    if args.child:
        fn = matrix if args.child == "matrix" else templating
        print(json.dumps(fn(args.workers)))
        return
    with tempfile.TemporaryDirectory() as home:
        cold = _child("matrix", home, args.workers)
        warm = _child("matrix", home, args.workers)
        warm2 = _child("matrix", home, args.workers)
    with tempfile.TemporaryDirectory() as home:
        tpl = _child("templating", home, args.workers)
    result = {
        "queries": cold["queries"], "datasets": DATASETS,
        "templating_qps": tpl["templating_qps"], "baseline_qps": tpl["baseline_qps"],
        "speedup_vs_baseline": tpl["templating_qps"] / tpl["baseline_qps"],
        "templates_identical_to_baseline": tpl["same_templates"],
        "distinct_templates": tpl["distinct_templates"],
        "matrix_cold_s": cold["seconds"], "matrix_cold_profile_s": cold["profile_s"],
        "matrix_cold_compare_s": cold["compare_s"],
        "matrix_warm_s": min(warm["seconds"], warm2["seconds"]),
        "matrix_warm_runs_s": [warm["seconds"], warm2["seconds"]],
        "process_wall_s": {"cold": cold["process_wall_s"], "warm": warm["process_wall_s"],
                           "warm2": warm2["process_wall_s"]},
        "unparsed": cold["unparsed"], "kl_scale": cold["kl_scale"],
        "matrix": [{k: p[k] for k in ("source", "target", "kl", "alignment", "ovlp", "jaccard")}
                   for p in cold["pairs"]],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "workers": args.workers,
        "command": "python bench/align_bench.py",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("matrix", "unparsed")}, indent=2))


if __name__ == "__main__":
    main()
